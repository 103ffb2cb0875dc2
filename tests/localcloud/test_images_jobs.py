"""A job runs with the Python and libraries of the image it names, so what fails on AWS fails here.

The 1.2-1 and 1.9-0 environments are built on first use into the images cache (``make install``
prepares 1.9-0; 1.2-1 takes about a minute the first time, from the package index).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from localcloud.services.sagemaker.images import environments, table

BUCKET = "images-jobs"
ROLE = "arn:aws:iam::123456789012:role/images"
REGISTRY = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
SKLEARN = REGISTRY + "/sagemaker-scikit-learn:{}-cpu-py3"
# pandas' DataFrame.map is new in 2.1 (1.2-1 has pandas 1.1.3): a script written against the
# project's pandas 3 that passes on the 1.9-0 image and fails on the 1.2-1 image, on AWS as here.
SCRIPT = b"""
import json, sys
import numpy, pandas, sklearn
versions = {"python": "%d.%d" % sys.version_info[:2], "sklearn": sklearn.__version__,
            "pandas": pandas.__version__, "numpy": numpy.__version__}
open("/opt/ml/output/message", "w").write(json.dumps(versions))
print("versions", json.dumps(versions), flush=True)
frame = pandas.DataFrame({"a": [1, 2]}).map(lambda value: value * 10)
print("mapped", frame["a"].tolist())
"""


def _processing(name: str, image: str, entrypoint: list[str]) -> dict:
    return dict(
        ProcessingJobName=name,
        RoleArn=ROLE,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        AppSpecification={"ImageUri": image, "ContainerEntrypoint": entrypoint},
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
    )


def _wait(sagemaker, name: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout  # a first use builds the image's environment
    while time.monotonic() < deadline:
        job = sagemaker.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] != "InProgress":
            return job
        time.sleep(0.2)
    raise TimeoutError(name)


@pytest.fixture(scope="module")
def code(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/script.py", Body=SCRIPT)
    return cloud.client("sagemaker")


def test_a_script_using_a_newer_pandas_passes_on_the_1_9_0_image_with_its_versions(code):
    code.create_processing_job(
        **_processing(
            "new-api-on-1-9-0", SKLEARN.format("1.9-0"), ["python3", "/opt/ml/processing/input/code/script.py"]
        )
    )
    job = _wait(code, "new-api-on-1-9-0")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert json.loads(job["ExitMessage"]) == {"python": "3.12", "sklearn": "1.9.0", "pandas": "2.2.3", "numpy": "2.5.1"}


def test_the_same_script_fails_on_the_1_2_1_image_as_on_aws(code):
    code.create_processing_job(
        **_processing(
            "new-api-on-1-2-1", SKLEARN.format("1.2-1"), ["python3", "/opt/ml/processing/input/code/script.py"]
        )
    )
    job = _wait(code, "new-api-on-1-2-1")
    assert job["ProcessingJobStatus"] == "Failed"
    assert "'DataFrame' object has no attribute 'map'" in job["FailureReason"], job["FailureReason"]
    assert json.loads(job["ExitMessage"]) == {"python": "3.9", "sklearn": "1.2.1", "pandas": "1.1.3", "numpy": "1.24.1"}


@pytest.mark.parametrize(
    ("image", "named"),
    [
        (REGISTRY + "/sagemaker-xgboost:1.7-1", "sagemaker-xgboost:1.7-1"),
        (SKLEARN.format("0.23-1"), "scikit-learn 0.23-1"),
    ],
)
def test_an_image_the_table_does_not_know_fails_the_job_naming_it_and_the_supported_ones(code, image, named):
    name = "unknown-" + named.split(":")[-1].replace(".", "-").replace(" ", "-")
    code.create_processing_job(**_processing(name, image, ["python3", "/opt/ml/processing/input/code/script.py"]))
    job = _wait(code, name)
    assert job["ProcessingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("ClientError: ") and "not supported by the local cloud" in reason, reason
    assert named in reason and all(f"sagemaker-scikit-learn:{v}-cpu-py3" in reason for v in table.supported()), reason


def test_a_script_with_a_training_image_of_another_framework_is_not_run(code):
    """An XGBoost image in script mode (entry_point) would run XGBoost's own toolkit: not here."""
    code.create_training_job(
        TrainingJobName="xgboost-script-mode",
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": REGISTRY + "/sagemaker-xgboost:1.7-1", "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": '"script.py"', "sagemaker_submit_directory": '"/opt/ml/code"'},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    deadline = time.monotonic() + 60
    while (job := code.describe_training_job(TrainingJobName="xgboost-script-mode"))[
        "TrainingJobStatus"
    ] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["TrainingJobStatus"] == "Failed"
    assert "sagemaker-xgboost:1.7-1 is not supported by the local cloud" in job["FailureReason"], job["FailureReason"]


def test_sudo_in_a_job_runs_the_sdk_bootstraps_permission_change_as_the_jobs_user(code):
    """SDK v3's remote-function bootstrap, as a non-root user, runs 'sudo chmod -R 777' on the job's
    folders and /tmp; a container runs as root, the sandbox never does, and its sudo makes that work."""
    import sagemaker.core.remote_function.runtime_environment.runtime_environment_manager as manager

    body = Path(manager.__file__).read_bytes()
    boto3.client("s3").put_object(Bucket=BUCKET, Key="sdk/runtime_environment_manager.py", Body=body)
    call = (
        "import os, sys; sys.path.insert(0, '/opt/ml/processing/input/code');"
        "from runtime_environment_manager import RuntimeEnvironmentManager;"
        "dirs = ['/opt/ml/input', '/opt/ml/output', '/opt/ml/processing', '/tmp'];"
        "[os.makedirs(d, exist_ok=True) for d in dirs];"
        "RuntimeEnvironmentManager().change_dir_permission(dirs=dirs, new_permission='777');"
        "open('/opt/ml/output/message', 'w').write(' '.join(oct(os.stat(d).st_mode & 0o777) for d in dirs))"
    )
    request = _processing("sdk-sudo-chmod", SKLEARN.format("1.9-0"), ["python3", "-c", call])
    request["ProcessingInputs"][0]["S3Input"]["S3Uri"] = f"s3://{BUCKET}/sdk/"
    code.create_processing_job(**request)
    job = _wait(code, "sdk-sudo-chmod")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExitMessage"] == "0o777 0o777 0o777 0o777"


def test_sudo_refuses_to_become_another_user(code):
    request = _processing("sudo-other-user", SKLEARN.format("1.9-0"), ["sudo", "-u", "postgres", "true"])
    code.create_processing_job(**request)
    job = _wait(code, "sudo-other-user")
    assert job["ProcessingJobStatus"] == "Failed"
    assert "cannot become 'postgres'" in job["FailureReason"], job["FailureReason"]


def test_the_seed_images_environment_records_what_it_installed():
    built = environments.find(table.IMAGES["1.9-0"])
    assert built is not None, "make install prepares it (localcloud images prepare 1.9-0)"
    manifest = built.manifest()
    assert manifest["image"] == "1.9-0" and manifest["python"].startswith("3.12.")
    installed = {line.split("==")[0].lower(): line.split("==")[1] for line in manifest["installed"] if "==" in line}
    assert installed["scikit-learn"] == "1.9.0" and installed["pandas"] == "2.2.3" and installed["numpy"] == "2.5.1"
    assert "aws/sagemaker-scikit-learn-container" in manifest["source"]
