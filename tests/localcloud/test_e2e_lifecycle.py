"""End to end on the local cloud: the product, unmodified seed code, from commit to production.

One project is brought to production once (its creation starts ModelBuild on the seed commit, as
CodePipeline starts every new pipeline: the model is trained, registered, approved, tested on staging
and promoted); each test then does one thing to it and checks what followed: new data and the
schedule retrain, a bad commit, a rejection and a failing staging test change nothing in
production. Every test stands alone: it counts only the runs it started, and leaves the project as
it found it. Deleting a project is tested on a project of its own (test_e2e_project_deletion.py).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import time
from dataclasses import dataclass
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
CREATED = "CreatePipeline"
PUSH = "aws.codecommit: CodeCommit Repository State Change (target pipeline)"
DATA_LANDED = "aws.s3: Object Created (target pipeline)"
SCHEDULED = "aws.events: Scheduled Event (target pipeline)"


@pytest.fixture(scope="module")
def life(cloud, cdk_out):
    publish(cdk_out, cloud.url, state=cloud.state.root)
    return Lifecycle(cloud.client)


@pytest.fixture(scope="module")
def project(life):
    return life.create_project("e2e", {"DataArrivalTrigger": "true", "RetrainingSchedule": "rate(7 days)"})


@dataclass(frozen=True)
class Production:
    package_arn: str
    created: float  # when the project was asked for
    deployed: float  # when the deploy run that promoted it had succeeded
    deploy_execution_id: str
    first_deploy: dict  # the ModelDeploy run that the pipeline's creation started


@pytest.fixture(scope="module")
def production(cloud, life, project) -> Production:
    """The demo flow: project -> ModelBuild's first run -> approve -> staging tested -> approve -> prod."""
    first_deploy = life.creation_run(project.modeldeploy_pipeline)
    first_deploy = life.wait_for_run_end(project.modeldeploy_pipeline, first_deploy["pipelineExecutionId"], 300)
    life.wait_for_execution(project.modelbuild_pipeline, project.created, timeout=300)
    package = life.wait_for_package(project.group, project.created, timeout=30)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    approved = time.time()
    life.approve_package(package["ModelPackageArn"])
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300, until_stage="ApproveDeployment")
    staging = cloud.client("sagemaker").describe_endpoint(EndpointName=project.staging_endpoint)
    assert staging["EndpointStatus"] == "InService"
    with pytest.raises(ClientError, match="(?i)could not find endpoint"):
        cloud.client("sagemaker").describe_endpoint(EndpointName=project.prod_endpoint)  # not before approval
    life.answer_approval(project.modeldeploy_pipeline, "ApproveDeployment")
    run = life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300)
    return Production(
        package["ModelPackageArn"], project.created, time.time(), run["pipelineExecutionId"], first_deploy
    )


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


def _runs(cloud, pipeline: str, since: float, until: float = float("inf")) -> list[dict]:
    """The runs of a CodePipeline pipeline that started in [since, until], oldest first."""
    summaries = cloud.client("codepipeline").list_pipeline_executions(pipelineName=pipeline)
    runs = [s for s in summaries["pipelineExecutionSummaries"] if since <= s["startTime"].timestamp() <= until]
    return sorted(runs, key=lambda s: s["startTime"])


def _deploy_runs_since(cloud, project, since: float) -> list[dict]:
    return _runs(cloud, project.modeldeploy_pipeline, since)


def _triggers(runs: list[dict]) -> list[str]:
    """What started each run: the event (rule and target) for an EventBridge trigger, else the trigger type."""
    return [
        r["trigger"]["triggerDetail"]
        if r["trigger"]["triggerType"] == "CloudWatchEvent"
        else r["trigger"]["triggerType"]
        for r in runs
    ]


def test_commit_reaches_production_and_answers_correctly(cloud, life, project, production):
    assert _prod_accuracy(cloud, life, project, production.package_arn) >= 0.9
    codepipeline = cloud.client("codepipeline")
    declared = codepipeline.get_pipeline(name=project.modeldeploy_pipeline)["pipeline"]["stages"]
    assert [s["name"] for s in declared] == [
        "Source",
        "Build",
        "DeployStaging",
        "TestStaging",
        "ApproveDeployment",
        "DeployProd",
    ]
    actions = codepipeline.list_action_executions(
        pipelineName=project.modeldeploy_pipeline, filter={"pipelineExecutionId": production.deploy_execution_id}
    )["actionExecutionDetails"]
    by_stage = {a["stageName"]: a["status"] for a in sorted(actions, key=lambda a: a["startTime"])}
    assert list(by_stage) == [s["name"] for s in declared], "the promoting run went through every stage in order"
    assert set(by_stage.values()) == {"Succeeded"}, by_stage


def test_creating_the_project_started_modelbuild_once_and_the_approval_deploy_once(cloud, project, production):
    """No event loops: the runs write to the project's bucket, and that must not start more runs."""
    window = (production.created, production.deployed)
    assert _triggers(_runs(cloud, project.modelbuild_pipeline, *window)) == [CREATED]
    deploys = _runs(cloud, project.modeldeploy_pipeline, *window)
    assert [d["pipelineExecutionId"] for d in deploys] == [
        production.first_deploy["pipelineExecutionId"],
        production.deploy_execution_id,
    ]
    assert _triggers(deploys)[1] == "aws.sagemaker: SageMaker Model Package State Change (target pipeline)"


def test_modeldeploy_first_run_stops_at_build_for_want_of_an_approved_package(cloud, life, project, production):
    first = production.first_deploy
    assert (first["trigger"]["triggerType"], first["status"]) == (CREATED, "Failed")
    assert "Build" in first["statusSummary"], first["statusSummary"]
    log = "\n".join(life.failed_build_log(project.modeldeploy_pipeline, first["pipelineExecutionId"]))
    assert f"No Approved model package in model package group '{project.group}'" in log
    assert "PendingManualApproval" in log or "the group is empty" in log


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
    assert _triggers(_runs(cloud, project.modelbuild_pipeline, landed)) == [DATA_LANDED], "one run, no loop"


def test_retraining_schedule_runs_modelbuild_when_due(cloud, life, project, production):
    started = time.time()
    week_later = datetime.now(UTC) + timedelta(days=7, seconds=5)
    fired = cloud.scheduler.tick(week_later)
    assert any(arn.endswith(f"sagemaker-{project.project_id}-retraining-schedule") for arn in fired)
    life.wait_for_execution(project.modelbuild_pipeline, started, timeout=300)
    assert life.wait_for_package(project.group, started, timeout=30)["ModelApprovalStatus"] == "PendingManualApproval"
    assert _triggers(_runs(cloud, project.modelbuild_pipeline, started)) == [SCHEDULED], "one run, no loop"


@pytest.fixture()
def package_events(cloud, project):
    """Every state change of the project's model packages, as the default bus delivered it: a rule
    with no status filter, beside the project's own approval rule, feeding a queue."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="e2e-package-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [project.group]},
    }
    events.put_rule(Name="e2e-package-events", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="e2e-package-events", Targets=[{"Id": "queue", "Arn": arn}])

    def delivered(package_arn: str, status: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                event = json.loads(message["Body"])
                if event["resources"] == [package_arn] and event["detail"]["ModelApprovalStatus"] == status:
                    return event
            assert time.monotonic() < deadline, f"no {status} event for {package_arn} reached the bus"
            time.sleep(0.1)

    yield delivered
    events.remove_targets(Rule="e2e-package-events", Ids=["queue"])
    events.delete_rule(Name="e2e-package-events")
    sqs.delete_queue(QueueUrl=url)


def test_rejected_package_deploys_nothing(cloud, life, project, production, package_events):
    sagemaker = cloud.client("sagemaker")
    spec = sagemaker.describe_model_package(ModelPackageName=production.package_arn)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=project.group,
        InferenceSpecification=spec["InferenceSpecification"],
        CustomerMetadataProperties=spec["CustomerMetadataProperties"],
    )["ModelPackageArn"]
    rejected = time.time()
    life.approve_package(arn, approve=False)
    # the rejection went over the same bus as the project's approval rule listens on, and was delivered
    event = package_events(arn, "Rejected")
    assert event["detail"]["ModelPackageGroupName"] == project.group
    assert _deploy_runs_since(cloud, project, rejected) == [], "a rejected package must not start ModelDeploy"
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Rejected"


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
    bad = _bad_model_package(cloud, project, production.package_arn, tmp_path)
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
    assert _prod_accuracy(cloud, life, project, production.package_arn) >= 0.9


def test_commit_below_threshold_registers_and_deploys_nothing(cloud, life, project, production):
    sagemaker = cloud.client("sagemaker")
    before = sagemaker.list_model_packages(ModelPackageGroupName=project.group)["ModelPackageSummaryList"]
    committed = time.time()

    def regularize(old: str, new: str):
        def change(work: Path) -> None:
            parameters = work / "pipelines" / "parameters.py"
            text, line = parameters.read_text(), f"DEFAULT_REGULARIZATION_C = {old}\n"
            assert line in text
            parameters.write_text(text.replace(line, f"DEFAULT_REGULARIZATION_C = {new}\n"))

        return change

    life.push_change(project.modelbuild_repo, regularize("1.0", "1e-6"), "Regularize much harder")
    try:
        with pytest.raises(LifecycleError, match="(?i)accuracy"):
            life.wait_for_execution(project.modelbuild_pipeline, committed, timeout=300)
        after = sagemaker.list_model_packages(ModelPackageGroupName=project.group)["ModelPackageSummaryList"]
        assert len(after) == len(before)
        assert _deploy_runs_since(cloud, project, committed) == []
        assert _triggers(_runs(cloud, project.modelbuild_pipeline, committed)) == [PUSH], "one run, no loop"
    finally:  # later runs (new data, the schedule) build what is on main: put the good setting back
        restored = time.time()
        life.push_change(project.modelbuild_repo, regularize("1e-6", "1.0"), "Back to the default regularization")
        life.wait_for_execution(project.modelbuild_pipeline, restored, timeout=300)
