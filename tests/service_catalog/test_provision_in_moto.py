"""The exported S3 project template provisions in moto's CloudFormation, as the local cloud will.

moto 5.2.5 creates the bucket, key, roles, policies, rules, log groups and the
function, and skips the other types (CodeCommit, CodeBuild, CodePipeline,
ModelPackageGroup, BucketPolicy, CustomResource) until the local cloud teaches them.
Of the bucket's properties it applies only encryption and tags (not versioning, public
access block, lifecycle or EventBridge notifications).
"""

from __future__ import annotations

import json
import warnings

import boto3
import pytest
from moto import mock_aws

from tests.service_catalog.conftest import ASSET_BUCKET

PROJECT = {"SageMakerProjectName": "churn-model", "SageMakerProjectId": "p-abc123def456"}
CONNECTION = {
    "SourceConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/abc",
    "ModelBuildRepositoryId": "acme/modelbuild",
    "ModelDeployRepositoryId": "acme/modeldeploy",
}


@pytest.fixture
def cloud(monkeypatch, synthesized):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    exported = synthesized.result.project_template.parent
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns for every type it skips
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=ASSET_BUCKET)
        for asset in (exported / "assets").iterdir():
            s3.upload_file(str(asset), ASSET_BUCKET, asset.name)
        yield exported / "template.json"


def provision(template_path, parameters: dict[str, str]) -> dict:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName="SC-123456789012-pp-test",
        TemplateBody=template_path.read_text(),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
    )
    stack = cloudformation.describe_stacks(StackName="SC-123456789012-pp-test")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    resources = cloudformation.list_stack_resources(StackName="SC-123456789012-pp-test")[
        "StackResourceSummaries"
    ]
    return {r["LogicalResourceId"]: r["ResourceType"] for r in resources}


def test_codecommit_variant_creates_the_project_bucket_roles_and_rules(cloud):
    provision(cloud, PROJECT)
    bucket = "sagemaker-project-p-abc123def456"
    s3 = boto3.client("s3")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"

    roles = boto3.client("iam").list_roles(PathPrefix="/sagemaker-project/")["Roles"]
    assert len(roles) == 10

    events = boto3.client("events")
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix="sagemaker-p-abc123def456")["Rules"]}
    assert sorted(rules) == [
        "sagemaker-p-abc123def456-model-approved",
        "sagemaker-p-abc123def456-modelbuild-push",
        "sagemaker-p-abc123def456-modeldeploy-push",
    ]
    approved = json.loads(rules["sagemaker-p-abc123def456-model-approved"]["EventPattern"])
    assert approved["detail"] == {
        "ModelPackageGroupName": ["churn-model-p-abc123def456"],
        "ModelApprovalStatus": ["Approved"],
    }


def test_connection_variant_with_triggers_provisions_too(cloud):
    provision(
        cloud, {**PROJECT, **CONNECTION, "DataArrivalTrigger": "true", "RetrainingSchedule": "rate(7 days)"}
    )
    rules = boto3.client("events").list_rules(NamePrefix="sagemaker-p-abc123def456")["Rules"]
    assert sorted(r["Name"] for r in rules) == [
        "sagemaker-p-abc123def456-data-arrival",
        "sagemaker-p-abc123def456-model-approved",
        "sagemaker-p-abc123def456-retraining-schedule",
    ]


def test_cleanup_function_is_created_from_the_published_handler(cloud):
    provision(cloud, PROJECT)
    function = boto3.client("lambda").get_function(FunctionName="sagemaker-p-abc123def456-cleanup")
    assert function["Configuration"]["Handler"] == "cleanup_handler.handler"
    assert function["Configuration"]["Timeout"] == 900
