"""End to end on the local cloud: the product, unmodified seed code, from commit to production.

One project goes through the lifecycle in order: a commit is trained, registered, approved,
tested on staging and promoted; a bad commit, a rejection and a failing staging test change
nothing in production; deleting the project cleans up.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression

from localcloud.tools.lifecycle import Lifecycle, LifecycleError
from localcloud.tools.publish import publish

INFERENCE_SCRIPT = (
    Path(__file__).resolve().parents[2] / "modelbuild" / "pipelines" / "scripts" / "training" / "inference.py"
)


@pytest.fixture(scope="module")
def life(cloud, cdk_out):
    publish(cdk_out, cloud.url, state=cloud.state.root)
    return Lifecycle(cloud.client)


@pytest.fixture(scope="module")
def project(life):
    return life.create_project("e2e", {"DataArrivalTrigger": "true", "RetrainingSchedule": "rate(7 days)"})


@pytest.fixture(scope="module")
def production(cloud, life, project):
    """The demo flow: commit -> ModelBuild -> approve -> staging tested -> approve -> prod."""
    committed = time.time()
    life.push_change(project.modelbuild_repo, lambda work: (work / "NOTES.md").write_text("retrain\n"), "Retrain")
    life.wait_for_execution(project.modelbuild_pipeline, committed, timeout=300)
    package = life.wait_for_package(project.group, committed, timeout=30)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    approved = time.time()
    life.approve_package(package["ModelPackageArn"])
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300, until_stage="ApproveDeployment")
    staging = cloud.client("sagemaker").describe_endpoint(EndpointName=project.staging_endpoint)
    assert staging["EndpointStatus"] == "InService"
    with pytest.raises(ClientError, match="(?i)could not find endpoint"):
        cloud.client("sagemaker").describe_endpoint(EndpointName=project.prod_endpoint)  # not before approval
    life.answer_approval(project.modeldeploy_pipeline, "ApproveDeployment")
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300)
    return package["ModelPackageArn"]


def _test_split(cloud, package_arn: str) -> pd.DataFrame:
    metadata = cloud.client("sagemaker").describe_model_package(ModelPackageName=package_arn)[
        "CustomerMetadataProperties"
    ]
    bucket, _, key = metadata["TestDataS3Uri"][len("s3://") :].partition("/")
    return pd.read_csv(io.BytesIO(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def _prod_accuracy(cloud, life, project, package_arn: str) -> float:
    test = _test_split(cloud, package_arn)
    rows = [",".join(str(v) for v in row) for row in test.drop(columns="target").itertuples(index=False)]
    answer = life.invoke(project.prod_endpoint, rows)
    labels = [p["label"] for p in answer["predictions"]]
    return sum(int(a == b) for a, b in zip(labels, test["target"], strict=True)) / len(labels)


def _prod_config(cloud, project) -> str:
    return cloud.client("sagemaker").describe_endpoint(EndpointName=project.prod_endpoint)["EndpointConfigName"]


def _deploy_runs_since(cloud, project, since: float) -> list[dict]:
    summaries = cloud.client("codepipeline").list_pipeline_executions(pipelineName=project.modeldeploy_pipeline)
    return [s for s in summaries["pipelineExecutionSummaries"] if s["startTime"].timestamp() >= since]


def test_commit_reaches_production_and_answers_correctly(cloud, life, project, production):
    assert _prod_accuracy(cloud, life, project, production) >= 0.9
    stages = cloud.client("codepipeline").get_pipeline_state(name=project.modeldeploy_pipeline)["stageStates"]
    assert [s["stageName"] for s in stages] == [
        "Source",
        "Build",
        "DeployStaging",
        "TestStaging",
        "ApproveDeployment",
        "DeployProd",
    ]
    assert all(s["latestExecution"]["status"] == "Succeeded" for s in stages)


def test_data_landing_under_data_prefix_retrains_on_that_data(cloud, life, project, production):
    shipped = Path(__file__).resolve().parents[2] / "modelbuild" / "data" / "breast_cancer.csv"
    landed = time.time()
    cloud.client("s3").put_object(Bucket=project.bucket, Key="data/landed-2026-11.csv", Body=shipped.read_bytes())
    life.wait_for_execution(project.modelbuild_pipeline, landed, timeout=300)
    sagemaker = cloud.client("sagemaker")
    executions = sagemaker.list_pipeline_executions(PipelineName=project.sagemaker_pipeline)
    newest = executions["PipelineExecutionSummaries"][0]
    parameters = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=newest["PipelineExecutionArn"])
    used = {p["Name"]: p["Value"] for p in parameters["PipelineParameters"]}["InputDataUrl"]
    assert used == f"s3://{project.bucket}/data/landed-2026-11.csv"
    package = life.wait_for_package(project.group, landed, timeout=30)
    assert package["ModelApprovalStatus"] == "PendingManualApproval", "new data never deploys by itself"
    assert _deploy_runs_since(cloud, project, landed) == []


def test_retraining_schedule_runs_modelbuild_when_due(cloud, life, project, production):
    started = time.time()
    week_later = datetime.now(UTC) + timedelta(days=7, seconds=5)
    fired = cloud.scheduler.tick(week_later)
    assert any(arn.endswith(f"sagemaker-{project.project_id}-retraining-schedule") for arn in fired)
    life.wait_for_execution(project.modelbuild_pipeline, started, timeout=300)
    assert life.wait_for_package(project.group, started, timeout=30)["ModelApprovalStatus"] == "PendingManualApproval"


def test_rejected_package_deploys_nothing(cloud, life, project, production):
    sagemaker = cloud.client("sagemaker")
    spec = sagemaker.describe_model_package(ModelPackageName=production)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=project.group,
        InferenceSpecification=spec["InferenceSpecification"],
        CustomerMetadataProperties=spec["CustomerMetadataProperties"],
    )["ModelPackageArn"]
    rejected = time.time()
    life.approve_package(arn, approve=False)
    time.sleep(2)
    assert _deploy_runs_since(cloud, project, rejected) == []


def _bad_model_package(cloud, project, package_arn: str, tmp_path: Path) -> str:
    """A deployable package whose model answers wrongly: trained on flipped labels."""
    train = _test_split(cloud, package_arn)
    model = LogisticRegression(max_iter=2000).fit(train.drop(columns="target"), 1 - train["target"])
    (tmp_path / "code").mkdir()
    joblib.dump(model, tmp_path / "model.joblib")
    shutil.copy(INFERENCE_SCRIPT, tmp_path / "code" / "inference.py")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(tmp_path / "model.joblib", arcname="model.joblib")
        tar.add(tmp_path / "code" / "inference.py", arcname="code/inference.py")
    cloud.client("s3").put_object(Bucket=project.bucket, Key="bad/model.tar.gz", Body=archive.getvalue())
    sagemaker = cloud.client("sagemaker")
    spec = sagemaker.describe_model_package(ModelPackageName=package_arn)
    inference = spec["InferenceSpecification"]
    inference["Containers"][0]["ModelDataUrl"] = f"s3://{project.bucket}/bad/model.tar.gz"
    return sagemaker.create_model_package(
        ModelPackageGroupName=project.group,
        InferenceSpecification=inference,
        CustomerMetadataProperties=spec["CustomerMetadataProperties"],
    )["ModelPackageArn"]


def test_failing_staging_test_leaves_production_untouched(cloud, life, project, production, tmp_path):
    prod_config = _prod_config(cloud, project)
    bad = _bad_model_package(cloud, project, production, tmp_path)
    approved = time.time()
    life.approve_package(bad)
    with pytest.raises(LifecycleError, match="TestStaging"):
        life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300)
    stages = {
        s["stageName"]: s
        for s in cloud.client("codepipeline").get_pipeline_state(name=project.modeldeploy_pipeline)["stageStates"]
    }
    assert stages["TestStaging"]["latestExecution"]["status"] == "Failed"
    assert _prod_config(cloud, project) == prod_config, "prod must keep its endpoint config"
    assert _prod_accuracy(cloud, life, project, production) >= 0.9


def test_commit_below_threshold_registers_and_deploys_nothing(cloud, life, project, production):
    sagemaker = cloud.client("sagemaker")
    before = sagemaker.list_model_packages(ModelPackageGroupName=project.group)["ModelPackageSummaryList"]
    committed = time.time()

    def overregularize(work: Path) -> None:
        parameters = work / "pipelines" / "parameters.py"
        text = parameters.read_text()
        assert "DEFAULT_REGULARIZATION_C = 1.0" in text
        parameters.write_text(text.replace("DEFAULT_REGULARIZATION_C = 1.0", "DEFAULT_REGULARIZATION_C = 1e-6"))

    life.push_change(project.modelbuild_repo, overregularize, "Regularize much harder")
    with pytest.raises(LifecycleError, match="(?i)accuracy"):
        life.wait_for_execution(project.modelbuild_pipeline, committed, timeout=300)
    after = sagemaker.list_model_packages(ModelPackageGroupName=project.group)["ModelPackageSummaryList"]
    assert len(after) == len(before)
    assert _deploy_runs_since(cloud, project, committed) == []


def test_each_trigger_started_modelbuild_exactly_once(cloud, project, production):
    """Two pushes, one data landing, one schedule: no event loops (builds write to the same bucket)."""
    summaries = cloud.client("codepipeline").list_pipeline_executions(pipelineName=project.modelbuild_pipeline)
    executions = summaries["pipelineExecutionSummaries"]
    triggers = sorted(e["trigger"].get("triggerDetail", e["trigger"]["triggerType"]) for e in executions)
    assert triggers == [
        "aws.codecommit: CodeCommit Repository State Change (target pipeline)",
        "aws.codecommit: CodeCommit Repository State Change (target pipeline)",
        "aws.events: Scheduled Event (target pipeline)",
        "aws.s3: Object Created (target pipeline)",
    ]


def test_deleting_the_project_removes_endpoints_and_empties_the_bucket(cloud, life, project, production):
    life.delete_project(project.name)
    endpoints = {e["EndpointName"] for e in cloud.client("sagemaker").list_endpoints()["Endpoints"]}
    assert not {project.staging_endpoint, project.prod_endpoint} & endpoints
    buckets = {b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]}
    if project.bucket in buckets:
        assert cloud.client("s3").list_object_versions(Bucket=project.bucket).get("Versions", []) == []
    stacks = cloud.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])
    assert not [s for s in stacks["StackSummaries"] if project.name in s["StackName"]]
