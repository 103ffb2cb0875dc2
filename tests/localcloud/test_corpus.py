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
import tarfile

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
}
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
