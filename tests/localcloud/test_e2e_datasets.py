"""End to end on the local cloud: the unmodified ModelBuild seed on binary, multiclass and regression data.

One project (its data-arrival trigger on) is shared by every test; its creation starts ModelBuild
once on the seed commit, and the first landing arrives while that run may still be going: the
ModelBuild pipeline is QUEUED, so the landed run waits its turn and neither is lost. Each test lands one of
scikit-learn's bundled datasets under the project bucket's data/ prefix, as a data scientist
would, and follows it through: the upload starts ModelBuild, the model is registered pending
approval, is approved, passes the staging test (judged by the metric the pipeline gated it on)
and is promoted; production then answers in the shape the problem type calls for, with the
quality the pipeline measured. A landed CSV that cannot be used fails the run naming itself, and
deleting the project deletes the SageMaker pipeline its builds upserted.
"""

from __future__ import annotations

import io
import json
import time

import pandas as pd
import pytest
from sklearn import datasets
from sklearn.metrics import accuracy_score, r2_score

from localcloud.tools.lifecycle import Lifecycle, LifecycleError
from localcloud.tools.publish import publish

DATASETS = {
    "breast_cancer": (datasets.load_breast_cancer, "binary_classification", "accuracy"),
    "wine": (datasets.load_wine, "multiclass_classification", "accuracy"),
    "diabetes": (datasets.load_diabetes, "regression", "r2"),
}


@pytest.fixture(scope="module")
def life(cloud, cdk_out):
    publish(cdk_out, cloud.url, state=cloud.state.root)
    return Lifecycle(cloud.client)


@pytest.fixture(scope="module")
def project(life):
    return life.create_project("datasets", {"DataArrivalTrigger": "true"})


def dataset_csv(name: str) -> bytes:
    bunch = DATASETS[name][0]()
    frame = pd.DataFrame(bunch.data, columns=[c.replace(" ", "_") for c in bunch.feature_names])
    frame.insert(0, "target", bunch.target)
    return frame.to_csv(index=False).encode()


def s3_json(cloud, uri: str) -> dict:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def held_out_split(cloud, package: dict) -> pd.DataFrame:
    bucket, _, key = package["CustomerMetadataProperties"]["TestDataS3Uri"][len("s3://") :].partition("/")
    return pd.read_csv(io.BytesIO(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def newest_sagemaker_execution(cloud, project) -> dict:
    sagemaker = cloud.client("sagemaker")
    listed = sagemaker.list_pipeline_executions(PipelineName=project.sagemaker_pipeline)
    newest = listed["PipelineExecutionSummaries"][0]
    return sagemaker.describe_pipeline_execution(PipelineExecutionArn=newest["PipelineExecutionArn"])


def build_times(cloud, pipeline: str, execution_id: str) -> tuple[float, float]:
    details = cloud.client("codepipeline").list_action_executions(
        pipelineName=pipeline, filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    [build] = [d for d in details if d["stageName"] == "Build"]
    return build["startTime"].timestamp(), build["lastUpdateTime"].timestamp()


def assert_queued_after_the_creation_run(cloud, life, project, execution_id: str) -> None:
    """QUEUED: the creation run was not superseded, and this run built only once it had finished building."""
    created = life.creation_run(project.modelbuild_pipeline)
    assert created["status"] == "Succeeded", created
    _, creation_built = build_times(cloud, project.modelbuild_pipeline, created["pipelineExecutionId"])
    began, _ = build_times(cloud, project.modelbuild_pipeline, execution_id)
    assert began >= creation_built


@pytest.mark.parametrize("name", list(DATASETS))
def test_landed_dataset_reaches_production_on_the_unmodified_seed(cloud, life, project, name):
    _, problem_type, metric = DATASETS[name]
    landed = time.time()
    key = f"data/{name}.csv"
    cloud.client("s3").put_object(Bucket=project.bucket, Key=key, Body=dataset_csv(name))
    run = life.wait_for_execution(project.modelbuild_pipeline, landed, timeout=300)
    summary = life.wait_for_package(project.group, landed, timeout=30)
    assert_queued_after_the_creation_run(cloud, life, project, run["pipelineExecutionId"])
    sagemaker = cloud.client("sagemaker")
    package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    report = s3_json(cloud, package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
    gate = report["quality_gate"]
    assert (gate["problem_type"], gate["metric"]) == (problem_type, metric), "ProblemType auto decided it"
    assert f"{problem_type}_metrics" in report
    assert gate["value"] >= gate["threshold"]

    approved = time.time()
    life.approve_package(package["ModelPackageArn"])
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300, until_stage="ApproveDeployment")
    life.answer_approval(project.modeldeploy_pipeline, "ApproveDeployment")
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300)
    prod = sagemaker.describe_endpoint(EndpointName=project.prod_endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=prod["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["Containers"][0]["ModelPackageName"] == package["ModelPackageArn"], "prod serves this package"

    test = held_out_split(cloud, package)
    rows = [",".join(str(v) for v in row) for row in test.drop(columns="target").itertuples(index=False)]
    predictions = life.invoke(project.prod_endpoint, rows)["predictions"]
    if metric == "r2":
        assert all(set(p) == {"value"} for p in predictions)
        measured = r2_score(test["target"], [p["value"] for p in predictions])
    else:
        assert all(len(p["probabilities"]) == test["target"].nunique() for p in predictions)
        measured = accuracy_score(test["target"], [p["label"] for p in predictions])
    assert measured == pytest.approx(gate["value"]), "prod answers as the evaluated model did"


def test_an_empty_landed_csv_fails_preprocess_naming_the_object(cloud, life, project):
    sagemaker = cloud.client("sagemaker")
    before = sagemaker.list_model_packages(ModelPackageGroupName=project.group)["ModelPackageSummaryList"]
    landed = time.time()
    cloud.client("s3").put_object(Bucket=project.bucket, Key="data/empty-upload.csv", Body=b"")
    with pytest.raises(LifecycleError):
        life.wait_for_execution(project.modelbuild_pipeline, landed, timeout=300)
    described = newest_sagemaker_execution(cloud, project)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert f"s3://{project.bucket}/data/empty-upload.csv is empty" in described["FailureReason"]
    after = sagemaker.list_model_packages(ModelPackageGroupName=project.group)["ModelPackageSummaryList"]
    assert len(after) == len(before), "nothing was trained on older data instead"


def test_deleting_the_project_deletes_the_sagemaker_pipeline_its_builds_created(cloud, life, project):
    sagemaker = cloud.client("sagemaker")
    ours = [
        p["PipelineName"]
        for p in sagemaker.list_pipelines()["PipelineSummaries"]
        if {"Key": "sagemaker:project-id", "Value": project.project_id}
        in sagemaker.list_tags(ResourceArn=p["PipelineArn"])["Tags"]
    ]
    assert ours == [project.sagemaker_pipeline], "the builds upserted it, tagged with the project id"
    life.delete_project(project.name)
    remaining = {p["PipelineName"] for p in sagemaker.list_pipelines()["PipelineSummaries"]}
    assert project.sagemaker_pipeline not in remaining
