"""End to end on the local cloud: deleting a project that has a model in production cleans up.

The project here is its own (deleting the lifecycle tests' project would take it from under them);
its model is trained here and registered directly, so that only ModelDeploy has to run.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from localcloud.tools.lifecycle import Lifecycle
from localcloud.tools.publish import publish

REPO = Path(__file__).resolve().parents[2]
INFERENCE_SCRIPT = REPO / "modelbuild" / "pipelines" / "scripts" / "training" / "inference.py"
DATA = REPO / "modelbuild" / "data" / "breast_cancer.csv"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


@pytest.fixture(scope="module")
def life(cloud, cdk_out):
    publish(cdk_out, cloud.url, state=cloud.state.root)
    return Lifecycle(cloud.client)


def _register_good_package(cloud, project, folder: Path) -> str:
    """A package as ModelBuild registers it: model.tar.gz with code/inference.py, a test split, a threshold."""
    data = pd.read_csv(DATA)
    model = LogisticRegression(max_iter=5000).fit(data.drop(columns="target").to_numpy(), data["target"])
    (folder / "code").mkdir()
    joblib.dump(model, folder / "model.joblib")
    shutil.copy(INFERENCE_SCRIPT, folder / "code" / "inference.py")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(folder / "model.joblib", arcname="model.joblib")
        tar.add(folder / "code" / "inference.py", arcname="code/inference.py")
    s3 = cloud.client("s3")
    s3.put_object(Bucket=project.bucket, Key="models/model.tar.gz", Body=archive.getvalue())
    s3.put_object(Bucket=project.bucket, Key="test/test.csv", Body=DATA.read_bytes())
    return cloud.client("sagemaker").create_model_package(
        ModelPackageGroupName=project.group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://{project.bucket}/models/model.tar.gz",
                    "Environment": SERVING_ENV,
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties={
            "TestDataS3Uri": f"s3://{project.bucket}/test/test.csv",
            "TargetColumn": "target",
            "AccuracyThreshold": "0.9",
        },
    )["ModelPackageArn"]


def test_deleting_the_project_removes_endpoints_stacks_and_the_bucket(cloud, life, tmp_path):
    project = life.create_project("e2e-delete")
    package = _register_good_package(cloud, project, tmp_path)
    approved = time.time()
    life.approve_package(package)
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300, until_stage="ApproveDeployment")
    life.answer_approval(project.modeldeploy_pipeline, "ApproveDeployment")
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300)
    sagemaker, s3, cloudformation = cloud.client("sagemaker"), cloud.client("s3"), cloud.client("cloudformation")
    endpoints = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    assert {project.staging_endpoint, project.prod_endpoint} <= endpoints, "both stages are deployed"
    assert s3.list_object_versions(Bucket=project.bucket).get("Versions"), "the bucket holds the runs' objects"

    life.delete_project(project.name)

    endpoints = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    assert not {project.staging_endpoint, project.prod_endpoint} & endpoints
    assert project.bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}, "emptied, then deleted"
    stacks = cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])
    assert not [s for s in stacks["StackSummaries"] if project.name in s["StackName"]]
