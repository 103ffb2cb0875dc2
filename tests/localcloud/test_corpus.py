"""A corpus of users' own pipelines, in the shapes of public ones, runs on the local cloud as on SageMaker.

The SDK v2 definitions are checked in (tests/localcloud/corpus/definitions, made by
``corpus/regenerate.py`` in a venv of their own); the SDK v3 one is built here. Each test goes through
the API: CreatePipeline, StartPipelineExecution, the steps' outcome, then the registered package is
deployed (CreateModel from the package -> endpoint) and invoked with CSV and JSON.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import textwrap
import time
import zipfile

import pytest

from tests.localcloud.corpus import harness
from tests.localcloud.corpus.harness import BUCKET

EXPECTED_STEPS = {
    "classic": {
        "PreprocessDiabetesData": "Processing",
        "TrainDiabetesModel": "Training",
        "EvaluateDiabetesModel": "Processing",
        "CheckR2Evaluation": "Condition",
        "RegisterDiabetesModel-RepackModel-0": "Training",
        "RegisterDiabetesModel-RegisterModel": "RegisterModel",
        "R2BelowThreshold": "Fail",
    },
    "framework_processor": {
        "FeaturizeWine": "Processing",
        "TrainWineModel": "Training",
        "RegisterWineModel-RegisterModel": "RegisterModel",
    },
    "tuning": {
        "PreprocessCancerData": "Processing",
        "TuneCancerModel": "Tuning",
        "EvaluateBestModel": "Processing",
        "CheckBestAccuracy": "Condition",
        "RegisterBestModel-RegisterModel": "RegisterModel",
    },
    "transform": {
        "PreprocessIrisData": "Processing",
        "TrainIrisModel": "Training",
        "CreateIrisModel-CreateModel": "Model",
        "TransformIrisBatch": "Transform",
    },
    "builtin_algorithm": {"PreprocessData": "Processing", "TrainWithXGBoostAlgorithm": "Training"},
}
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CODE_URI = re.compile(rf"s3://{BUCKET}/[^\"']+\.(?:py|sh|tar\.gz)")


@pytest.fixture(scope="module")
def corpus(cloud):
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    return cloud


@pytest.mark.parametrize("name", sorted(EXPECTED_STEPS))
def test_checked_in_definition_parses_names_its_steps_and_ships_its_code(name):
    definition = harness.definition(name)
    assert definition["Version"] == "2020-12-01"
    steps = {step_name: step["Type"] for step_name, step in harness.all_steps(definition["Steps"]).items()}
    assert steps == EXPECTED_STEPS[name]
    code_uris = set(CODE_URI.findall(json.dumps(definition)))
    assert code_uris, "the definition names no uploaded code"
    shipped = {f"s3://{BUCKET}/{key}" for key in harness.checked_in_objects(name)}
    assert code_uris <= shipped, f"named but not checked in: {sorted(code_uris - shipped)}"


# --- 1. the classic ModelBuild shape ----------------------------------------------------------------


@pytest.fixture(scope="module")
def classic(corpus):
    s3 = corpus.client("s3")
    harness.upload_code(s3, "classic")
    frame = harness.sklearn_frame("load_diabetes", 200)
    harness.put_csv(s3, "corpus-classic/input/data.csv", frame)
    corpus.client("sagemaker").create_model_package_group(ModelPackageGroupName="corpus-classic-models")
    return frame


def test_classic_shape_registers_a_package_that_serves_csv_and_json(corpus, classic):
    described, steps = harness.run(corpus, "classic", "corpus-classic")
    harness.require_success(described, steps)
    assert set(steps) == set(EXPECTED_STEPS["classic"]) - {"R2BelowThreshold"}
    assert steps["CheckR2Evaluation"]["Metadata"]["Condition"]["Outcome"] == "True"

    sagemaker = corpus.client("sagemaker")
    package = harness.latest_package(sagemaker, "corpus-classic-models")
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert (
        package["ModelPackageArn"] == steps["RegisterDiabetesModel-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    )
    container = package["InferenceSpecification"]["Containers"][0]
    repack_job = steps["RegisterDiabetesModel-RepackModel-0"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    repacked = sagemaker.describe_training_job(TrainingJobName=repack_job)["ModelArtifacts"]["S3ModelArtifacts"]
    assert container["ModelDataUrl"] == repacked
    with tarfile.open(fileobj=io.BytesIO(harness.read_object(corpus.client("s3"), repacked))) as archive:
        assert {"model.joblib", "code/inference.py"} <= set(archive.getnames())
    report = json.loads(
        harness.read_object(corpus.client("s3"), package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    )
    assert report["regression_metrics"]["r2"]["value"] >= 0.2

    sagemaker.update_model_package(ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Approved")
    rows = classic.drop(columns="target").head(2).to_numpy().tolist()
    answers = harness.deploy_and_invoke(corpus, package["ModelPackageArn"], "corpus-classic", rows)
    assert answers["text/csv"] == pytest.approx(answers["application/json"])
    assert len(answers["text/csv"]) == 2
    assert all(25 <= value <= 346 for value in answers["text/csv"]), answers  # diabetes targets' range


def test_classic_shape_fails_with_the_fail_steps_message_when_the_gate_is_not_met(corpus, classic):
    sagemaker = corpus.client("sagemaker")
    before = len(
        sagemaker.list_model_packages(ModelPackageGroupName="corpus-classic-models")["ModelPackageSummaryList"]
    )
    described, steps = harness.run(corpus, "classic", "corpus-classic", {"R2Threshold": 0.99})
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Execution failed: R2 is below the threshold 0.99"
    assert steps["R2BelowThreshold"]["StepStatus"] == "Failed"
    assert steps["R2BelowThreshold"]["Metadata"]["Fail"]["ErrorMessage"] == described["FailureReason"]
    assert steps["CheckR2Evaluation"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert "RegisterDiabetesModel-RegisterModel" not in steps
    after = len(sagemaker.list_model_packages(ModelPackageGroupName="corpus-classic-models")["ModelPackageSummaryList"])
    assert after == before


# --- 2. FrameworkProcessor with a requirements.txt ----------------------------------------------------


def test_framework_processor_installs_its_requirements_and_the_package_serves(corpus):
    s3 = corpus.client("s3")
    harness.upload_code(s3, "framework_processor")
    frame = harness.sklearn_frame("load_wine", 200)
    harness.put_csv(s3, "corpus-framework-processor/input/data.csv", frame)
    sagemaker = corpus.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="corpus-framework-models")

    described, steps = harness.run(corpus, "framework_processor", "corpus-framework-processor")
    harness.require_success(described, steps)
    job = sagemaker.describe_processing_job(
        ProcessingJobName=steps["FeaturizeWine"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    )
    assert job["AppSpecification"]["ContainerEntrypoint"][-1].endswith("runproc.sh")
    report_uri = next(o for o in job["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == "report")
    summary = harness.read_object(s3, report_uri["S3Output"]["S3Uri"] + "/summary.txt").decode()
    assert re.search(r"^split\s+rows\s+classes$", summary, re.M), summary  # tabulate's plain table
    assert re.search(r"^train\s+142\s+3$", summary, re.M), summary

    package = harness.latest_package(sagemaker, "corpus-framework-models")
    assert package["ModelApprovalStatus"] == "Approved"
    rows = frame.drop(columns="target").head(3).to_numpy().tolist()
    answers = harness.deploy_and_invoke(corpus, package["ModelPackageArn"], "corpus-framework", rows)
    assert answers["text/csv"] == answers["application/json"]
    assert set(answers["text/csv"]) <= {0, 1, 2} and len(answers["text/csv"]) == 3


# --- 3. a tuning step ----------------------------------------------------------------------------------


def test_tuning_step_registers_the_best_model(corpus):
    s3 = corpus.client("s3")
    harness.upload_code(s3, "tuning")
    frame = harness.sklearn_frame("load_breast_cancer", 200)
    harness.put_csv(s3, "corpus-tuning/input/data.csv", frame)
    sagemaker = corpus.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="corpus-tuning-models")

    described, steps = harness.run(corpus, "tuning", "corpus-tuning")
    harness.require_success(described, steps)
    tuning_job = steps["TuneCancerModel"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[1]
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 3
    best = tuning["BestTrainingJob"]
    listed = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
    scores = [job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for job in listed["TrainingJobSummaries"]]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(scores)

    package = harness.latest_package(sagemaker, "corpus-tuning-models")
    best_model = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])["ModelArtifacts"]
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == best_model["S3ModelArtifacts"]
    rows = frame.drop(columns="target").head(2).to_numpy().tolist()
    answers = harness.deploy_and_invoke(corpus, package["ModelPackageArn"], "corpus-tuning", rows)
    assert answers["text/csv"] == answers["application/json"]
    assert set(answers["text/csv"]) <= {0, 1}


# --- 4. a transform step ---------------------------------------------------------------------------------


def test_transform_step_writes_one_prediction_per_input_row(corpus):
    s3 = corpus.client("s3")
    harness.upload_code(s3, "transform")
    frame = harness.sklearn_frame("load_iris", 150)
    harness.put_csv(s3, "corpus-transform/input/data.csv", frame)
    batch = frame.drop(columns="target").head(20)
    harness.put_csv(s3, "corpus-transform/batch/features.csv", batch, header=False)

    described, steps = harness.run(corpus, "transform", "corpus-transform")
    harness.require_success(described, steps)
    model_name = steps["CreateIrisModel-CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    job_name = steps["TransformIrisBatch"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1]
    job = corpus.client("sagemaker").describe_transform_job(TransformJobName=job_name)
    assert job["TransformJobStatus"] == "Completed" and job["ModelName"] == model_name
    output = harness.read_object(s3, job["TransformOutput"]["S3OutputPath"] + "/features.csv.out").decode()
    predictions = [json.loads(line) for line in output.splitlines() if line.strip()]
    flat = [value for line in predictions for value in (line if isinstance(line, list) else [line])]
    assert len(flat) == 20 and set(flat) <= {0, 1, 2}, output
    assert sum(p == t for p, t in zip(flat, frame["target"].head(20), strict=True)) >= 15  # the model learnt something


# --- a public ModelBuild's training script that pip installs what it needs ---------------------------------


def _wheel(package: str, version: str, module_text: str) -> bytes:
    """A minimal pure-Python wheel: one module and its dist-info."""
    dist = f"{package}-{version}.dist-info"
    files = {
        f"{package}.py": module_text,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: corpus\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{name},,\n" for name in files) + f"{dist}/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_script_pip_installs_from_a_local_index_whose_pages_link_to_files_beside_it(corpus, tmp_path, monkeypatch):
    """PEP 503 indexes laid out as <root>/simple/<name>/index.html -> ../../files/<wheel> (this project's
    machines configure pip so): a job's pip must read the files the pages link to, not only the pages."""
    wheel = "corpusdep-1.0-py3-none-any.whl"
    tmp_path.chmod(0o755)  # the job runs as an unprivileged user, who must be able to read the index
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / wheel).write_bytes(_wheel("corpusdep", "1.0", "ANSWER = 42\n"))
    (tmp_path / "simple" / "corpusdep").mkdir(parents=True)
    (tmp_path / "simple" / "corpusdep" / "index.html").write_text(f'<a href="../../files/{wheel}">{wheel}</a>\n')
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    script = textwrap.dedent(
        """\
        import os, subprocess, sys
        subprocess.call([sys.executable, "-m", "pip", "install", "--quiet", "corpusdep"])  # as train.py there does
        import corpusdep
        open(os.path.join(os.environ["SM_MODEL_DIR"], "answer.txt"), "w").write(str(corpusdep.ANSWER))
        """
    )
    s3 = corpus.client("s3")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script.encode())
        tar.addfile(info, io.BytesIO(script.encode()))
    s3.put_object(Bucket=BUCKET, Key="local-index/sourcedir.tar.gz", Body=archive.getvalue())
    sagemaker = corpus.client("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName="corpus-local-index",
        RoleArn=harness.ROLE,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{BUCKET}/local-index/sourcedir.tar.gz"',
        },
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/local-index/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    deadline = time.monotonic() + 120
    while (job := sagemaker.describe_training_job(TrainingJobName="corpus-local-index"))["TrainingJobStatus"] in (
        "InProgress",
        "Stopping",
    ):
        assert time.monotonic() < deadline, "training job still running after 120 s"
        time.sleep(0.3)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    with tarfile.open(fileobj=io.BytesIO(harness.read_object(s3, job["ModelArtifacts"]["S3ModelArtifacts"]))) as tar:
        assert tar.extractfile("answer.txt").read() == b"42"


# --- the seed's built-in algorithm: what the local cloud cannot run fails saying so ------------------------


def test_built_in_algorithm_training_fails_naming_the_image_and_what_to_do(corpus):
    s3 = corpus.client("s3")
    harness.upload_code(s3, "builtin_algorithm")
    harness.put_csv(s3, "corpus-builtin-algorithm/input/data.csv", harness.sklearn_frame("load_diabetes", 100))

    described, steps = harness.run(corpus, "builtin_algorithm", "corpus-builtin-algorithm")
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["PreprocessData"]["StepStatus"] == "Succeeded"
    reason = steps["TrainWithXGBoostAlgorithm"]["FailureReason"]
    image = harness.definition("builtin_algorithm")["Steps"][1]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    assert reason.startswith("ClientError: ")
    assert image in reason and "built-in algorithm" in reason and "entry_point" in reason, reason


# --- 5. SDK v3: @step-decorated functions --------------------------------------------------------------


def test_step_decorated_functions_fail_as_on_sagemaker_when_the_images_python_is_not_the_clients(corpus):
    """SDK v3's remote-function bootstrap refuses to run a function in a Python other than the one that
    pickled it. The quick start names the scikit-learn 1.2-1 image (Python 3.9) and is built here from the
    project's Python 3.11, so on SageMaker its first @step job fails with the SDK's own RuntimeEnvironmentError;
    it does here too, now that jobs run on the image's Python. (Its next step, 'sudo chmod' as a non-root
    user, works in the sandbox: test_images_jobs runs the SDK's own code for it.)"""
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    from tests.localcloud.corpus import step_decorator_v3

    s3 = corpus.client("s3")
    harness.put_csv(s3, f"{step_decorator_v3.NAME}/input/data.csv", harness.sklearn_frame("load_iris", 150))
    corpus.client("sagemaker").create_model_package_group(ModelPackageGroupName="corpus-step-decorator-models")
    session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=BUCKET)
    body = step_decorator_v3.get_pipeline(session, BUCKET).definition()

    described, steps = harness.run_definition(corpus, body, step_decorator_v3.NAME)
    assert described["PipelineExecutionStatus"] == "Failed"
    reason = steps["PrepareIris"]["FailureReason"]
    assert reason.startswith("AlgorithmError: RuntimeEnvironmentError: Python version found in the container is '3.9'")
    assert f"does not match python version '{sys.version_info.major}.{sys.version_info.minor}'" in reason, reason
    assert set(steps) == {"PrepareIris"}, "nothing after the failed step runs"


def test_model_trainer_pipeline_registers_a_package_that_serves(corpus):
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    from tests.localcloud.corpus import model_trainer_v3

    s3 = corpus.client("s3")
    frame = harness.sklearn_frame("load_wine", 178)
    harness.put_csv(s3, f"{model_trainer_v3.NAME}/train/wine.csv", frame)
    sagemaker = corpus.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=model_trainer_v3.GROUP)
    session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=BUCKET)
    body = model_trainer_v3.get_pipeline(session, BUCKET).definition()

    described, steps = harness.run_definition(corpus, body, model_trainer_v3.NAME, {"Trees": 25})
    harness.require_success(described, steps)
    job_name = steps["TrainWineForest"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    job = sagemaker.describe_training_job(TrainingJobName=job_name)
    assert job["HyperParameters"]["n_estimators"] == "25"
    package = harness.latest_package(sagemaker, model_trainer_v3.GROUP)
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    rows = frame.drop(columns="target").head(5).to_numpy().tolist()
    answers = harness.deploy_and_invoke(corpus, package["ModelPackageArn"], "corpus-model-trainer", rows)
    assert answers["text/csv"] == answers["application/json"] == frame["target"].head(5).tolist()
