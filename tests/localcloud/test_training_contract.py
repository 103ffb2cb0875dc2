"""The framework image's training toolkit, as a job sees it: how the entry point runs, what it is
given, what it may install, and how its failure and message files reach the job's description."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import textwrap
import time

import pytest

BUCKET = "contract-jobs"
ROLE = "arn:aws:iam::123456789012:role/jobs"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
# Small pure-Python packages from PyPI that the project's venv does not have.
REQUIRED_PACKAGE = "inflection==0.5.1"
SELF_INSTALLED_PACKAGE = "pyjokes==0.8.3"


def tar_gz(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def model_files(s3, name: str) -> dict[str, str]:
    body = s3.get_object(Bucket=BUCKET, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def s3(cloud):
    client = cloud.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="data/train/rows.csv", Body=b"1,2\n3,4\n")
    return client


def train(cloud, s3, name: str, program: str, files: dict[str, str], hyperparameters: dict | None = None) -> dict:
    """A training job shaped as SDK v2's estimators (and its repack step) send it; waits for its end."""
    s3.put_object(Bucket=BUCKET, Key=f"code/{name}/sourcedir.tar.gz", Body=tar_gz(files))
    encoded = {key: json.dumps(value) for key, value in (hyperparameters or {}).items()}
    encoded.update(
        sagemaker_program=json.dumps(program),
        sagemaker_submit_directory=json.dumps(f"s3://{BUCKET}/code/{name}/sourcedir.tar.gz"),
    )
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters=encoded,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/train"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    return wait(lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus")


def process(cloud, s3, name: str, script: str) -> dict:
    """A processing job running ``python3 script.py`` (ScriptProcessor's shape); waits for its end."""
    s3.put_object(Bucket=BUCKET, Key=f"code/{name}/script.py", Body=textwrap.dedent(script).encode())
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        AppSpecification={"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/script.py"]},
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/{name}/script.py",
                    "LocalPath": "/opt/ml/processing/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/processed/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    return wait(lambda: sagemaker.describe_processing_job(ProcessingJobName=name), "ProcessingJobStatus")


def wait(describe, status_key: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = describe()
        if job[status_key] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.1)
    raise TimeoutError(status_key)


# how the entry point runs -------------------------------------------------------------------
def test_a_shell_entry_point_runs_with_the_shell_and_gets_the_hyperparameters(cloud, s3):
    """v2's repack step names _repack_script_launcher.sh: the toolkit runs it with /bin/sh, not python."""
    launcher = """\
        #!/bin/bash
        set -eu
        if [ -n "${SM_HP_EPOCHS:-}" ]; then printf '%s' "$SM_HP_EPOCHS" > /opt/ml/model/epochs.txt; fi
        printf '%s ' "$@" > /opt/ml/model/args.txt
    """
    job = train(cloud, s3, "shell-entry", "launch.sh", {"launch.sh": launcher}, {"epochs": 3, "lr": 0.1})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    files = model_files(s3, "shell-entry")
    assert files["epochs.txt"] == "3"
    assert files["args.txt"].split() == ["--epochs", "3", "--lr", "0.1"]  # sorted, as the toolkit passes them


def test_the_script_gets_the_toolkits_variables(cloud, s3):
    script = """\
        import json, os, sys
        names = ["SM_TRAINING_ENV", "SM_USER_ARGS", "SM_HP_MAX-DEPTH", "SM_HPS", "SM_CHANNELS", "SM_CHANNEL_TRAIN",
                 "SM_MODULE_DIR", "SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_NUM_CPUS", "SM_CURRENT_HOST", "SM_HOSTS",
                 "SM_INPUT_DATA_CONFIG", "SM_FRAMEWORK_PARAMS", "SM_USER_ENTRY_POINT", "SM_RESOURCE_CONFIG"]
        seen = {name: os.environ.get(name) for name in names}
        seen["argv"] = sys.argv[1:]
        seen["rows"] = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "rows.csv")).read()
        json.dump(seen, open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w"))
    """
    job = train(cloud, s3, "toolkit-env", "train.py", {"train.py": script}, {"max-depth": 4, "criterion": "gini"})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    seen = json.loads(model_files(s3, "toolkit-env")["seen.json"])
    assert seen["argv"] == ["--criterion", "gini", "--max-depth", "4"]
    assert json.loads(seen["SM_USER_ARGS"]) == seen["argv"]
    assert seen["SM_HP_MAX-DEPTH"] == "4" and json.loads(seen["SM_HPS"]) == {"criterion": "gini", "max-depth": 4}
    assert json.loads(seen["SM_CHANNELS"]) == ["train"] and seen["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert seen["rows"] == "1,2\n3,4\n"
    assert seen["SM_MODULE_DIR"] == f"s3://{BUCKET}/code/toolkit-env/sourcedir.tar.gz"
    assert (seen["SM_MODEL_DIR"], seen["SM_OUTPUT_DATA_DIR"]) == ("/opt/ml/model", "/opt/ml/output/data")
    assert int(seen["SM_NUM_CPUS"]) >= 1 and seen["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(seen["SM_HOSTS"]) == ["algo-1"] and seen["SM_USER_ENTRY_POINT"] == "train.py"
    assert json.loads(seen["SM_INPUT_DATA_CONFIG"])["train"]["TrainingInputMode"] == "File"
    assert json.loads(seen["SM_RESOURCE_CONFIG"])["current_host"] == "algo-1"
    training_env = json.loads(seen["SM_TRAINING_ENV"])
    assert training_env["hyperparameters"] == {"criterion": "gini", "max-depth": 4}
    assert training_env["channel_input_dirs"] == {"train": "/opt/ml/input/data/train"}
    assert training_env["job_name"] == "toolkit-env" and training_env["module_name"] == "train"


# what a job may install ---------------------------------------------------------------------
def test_requirements_txt_in_source_dir_is_installed_before_the_script(cloud, s3):
    assert importlib.util.find_spec("inflection") is None, "the package must be one the venv lacks"
    script = """\
        import os, inflection
        open(os.path.join(os.environ["SM_MODEL_DIR"], "word.txt"), "w").write(inflection.pluralize("model"))
    """
    files = {"train.py": script, "requirements.txt": REQUIRED_PACKAGE + "\n"}
    job = train(cloud, s3, "with-requirements", "train.py", files)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert model_files(s3, "with-requirements")["word.txt"] == "models"
    assert importlib.util.find_spec("inflection") is None, "the install stays the job's own"


def test_a_requirement_that_cannot_be_installed_fails_the_job_with_pips_error(cloud, s3):
    files = {"train.py": "print('never runs')\n", "requirements.txt": "no-such-package-for-localcloud-tests==9.9.9\n"}
    job = train(cloud, s3, "bad-requirements", "train.py", files)
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("AlgorithmError: InstallRequirementsError:"), reason
    assert "no-such-package-for-localcloud-tests" in reason and "ERROR:" in reason, reason
    assert "never runs" not in reason


def test_a_scripts_own_pip_install_works_and_stays_with_that_job(cloud, s3):
    installs = f"""\
        import subprocess, sys
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "{SELF_INSTALLED_PACKAGE}"])
        import pyjokes
        open("/opt/ml/processing/output/joke.txt", "w").write(pyjokes.get_joke())
    """
    job = process(cloud, s3, "self-install", installs)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert s3.get_object(Bucket=BUCKET, Key="processed/self-install/joke.txt")["Body"].read()
    looks = """\
        import importlib.util
        found = importlib.util.find_spec("pyjokes") is not None
        open("/opt/ml/processing/output/found.txt", "w").write(str(found))
    """
    other = process(cloud, s3, "other-job", looks)
    assert other["ProcessingJobStatus"] == "Completed", other.get("FailureReason")
    assert s3.get_object(Bucket=BUCKET, Key="processed/other-job/found.txt")["Body"].read() == b"False"
    assert importlib.util.find_spec("pyjokes") is None


# failure and message files ------------------------------------------------------------------
def test_the_failure_file_is_the_failure_reason_cut_at_one_kilobyte(cloud, s3):
    script = """\
        import sys
        open("/opt/ml/output/failure", "w").write("bad training data: " + "x" * 3000)
        sys.exit(2)
    """
    job = train(cloud, s3, "writes-failure", "train.py", {"train.py": script})
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: bad training data: xxx")
    assert len(job["FailureReason"]) <= 1024
    assert job["FailureReason"].endswith("exit code: 2")


def test_a_failing_script_fails_as_the_toolkit_reports_it(cloud, s3):
    script = "raise ValueError('the label column is missing')\n"
    job = train(cloud, s3, "script-raises", "train.py", {"train.py": script}, {"epochs": 1})
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\n"), reason
    assert 'ErrorMessage "ValueError: the label column is missing"' in reason
    assert 'Command "python3 train.py --epochs 1"' in reason


def test_the_message_file_is_the_processing_jobs_exit_message(cloud, s3):
    done = process(cloud, s3, "with-message", "open('/opt/ml/output/message', 'w').write('split 42 rows')\n")
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["ExitMessage"] == "split 42 rows"
    failing = """\
        import sys
        open("/opt/ml/output/message", "w").write("column mean_texture is not numeric " + "y" * 2000)
        sys.exit("validation failed")
    """
    failed = process(cloud, s3, "fails-with-message", failing)
    assert failed["ProcessingJobStatus"] == "Failed"
    assert failed["ExitMessage"].startswith("column mean_texture is not numeric")
    assert len(failed["ExitMessage"].encode()) == 1024
    assert "validation failed" in failed["FailureReason"]
