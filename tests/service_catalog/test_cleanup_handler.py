"""The cleanup custom resource, run against moto: on Delete it removes what pipelines created."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from service_catalog.project import cleanup_handler

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT_ID = "p-abc123def456"
BUCKET = f"sagemaker-project-{PROJECT_ID}"
GROUP = "churn-model-p-abc123def456"
STACKS = ["sagemaker-churn-model-deploy-staging", "sagemaker-churn-model-deploy-prod"]
STACK_TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


def _delete_model_package(self):
    """moto 5.2.5 lacks DeleteModelPackage; the local cloud adds it the same way."""
    backend = sagemaker_backends[self.current_account][self.region]
    name = self._get_param("ModelPackageName")
    backend.model_packages.pop(backend.model_package_name_mapping.get(name, name))
    return "{}"


class Responses(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_PUT(self):  # noqa: N802 (http.server API)
        length = int(self.headers["Content-Length"])
        Responses.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Context:
    def get_remaining_time_in_millis(self):
        return 300_000


@pytest.fixture
def response_url():
    Responses.received = []
    server = HTTPServer(("127.0.0.1", 0), Responses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response"
    server.shutdown()


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(SageMakerResponse, "delete_model_package", _delete_model_package, raising=False)
    with mock_aws():
        yield


def event(request_type: str, response_url: str, **properties) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": response_url,
        "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/SC-{ACCOUNT}-pp-x/1",
        "RequestId": "req-1",
        "LogicalResourceId": "CleanupResource",
        "PhysicalResourceId": f"cleanup-{BUCKET}",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:...",
            "BucketName": BUCKET,
            "ModelPackageGroupName": GROUP,
            "StackNames": STACKS,
            "DeployRoleArn": f"arn:aws:iam::{ACCOUNT}:role/sagemaker-project/deploy",
            "ProjectId": PROJECT_ID,
            **properties,
        },
    }


def create_project_leftovers() -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for version in range(3):
        s3.put_object(Bucket=BUCKET, Key="models/model.tar.gz", Body=f"v{version}".encode())
    s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=b"a,b\n")
    s3.delete_object(Bucket=BUCKET, Key="data/train.csv")  # leaves a delete marker
    cloudformation = boto3.client("cloudformation")
    for name in STACKS:
        cloudformation.create_stack(StackName=name, TemplateBody=STACK_TEMPLATE)
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for _ in range(2):
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [{"Image": "sklearn"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )


PIPELINE_DEFINITION = json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []})
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline"


def create_pipeline(name: str, project_id: str | None) -> None:
    tags = [{"Key": "sagemaker:project-name", "Value": "churn-model"}]
    if project_id:
        tags.append({"Key": "sagemaker:project-id", "Value": project_id})
    boto3.client("sagemaker").create_pipeline(
        PipelineName=name, PipelineDefinition=PIPELINE_DEFINITION, RoleArn=ROLE, Tags=tags
    )


def pipelines() -> list[str]:
    return sorted(p["PipelineName"] for p in boto3.client("sagemaker").list_pipelines()["PipelineSummaries"])


def remaining() -> dict:
    versions = boto3.client("s3").list_object_versions(Bucket=BUCKET)
    stacks = [s["StackName"] for s in boto3.client("cloudformation").describe_stacks()["Stacks"]]
    packages = boto3.client("sagemaker").list_model_packages(ModelPackageGroupName=GROUP, ModelPackageType="Versioned")
    return {
        "versions": len(versions.get("Versions", [])) + len(versions.get("DeleteMarkers", [])),
        "stacks": [s for s in stacks if s in STACKS],
        "packages": len(packages["ModelPackageSummaryList"]),
    }


def test_delete_removes_endpoint_stacks_object_versions_and_model_packages(aws, response_url):
    create_project_leftovers()
    assert remaining() == {"versions": 5, "stacks": STACKS, "packages": 2}

    cleanup_handler.handler(event("Delete", response_url), Context())

    assert remaining() == {"versions": 0, "stacks": [], "packages": 0}
    (answer,) = Responses.received
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == f"cleanup-{BUCKET}"
    assert answer["RequestId"] == "req-1" and answer["LogicalResourceId"] == "CleanupResource"
    assert "5 object versions" in answer["Reason"] and "2 model packages" in answer["Reason"]


def test_delete_succeeds_when_nothing_was_ever_deployed(aws, response_url):
    cleanup_handler.handler(event("Delete", response_url), Context())
    (answer,) = Responses.received
    assert answer["Status"] == "SUCCESS", answer["Reason"]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_touch_nothing(aws, response_url, request_type):
    create_project_leftovers()
    cleanup_handler.handler(event(request_type, response_url), Context())
    assert remaining() == {"versions": 5, "stacks": STACKS, "packages": 2}
    assert Responses.received[0]["Status"] == "SUCCESS"


def test_a_failure_is_reported_to_cloudformation_with_its_cause(aws, response_url):
    bad = event("Delete", response_url)
    del bad["ResourceProperties"]["DeployRoleArn"]
    cleanup_handler.handler(bad, Context())
    (answer,) = Responses.received
    assert answer["Status"] == "FAILED"
    assert "DeployRoleArn" in answer["Reason"]


def test_delete_removes_the_pipelines_tagged_with_the_project_id_and_no_others(aws, response_url):
    create_pipeline("sagemaker-churn-model", PROJECT_ID)
    create_pipeline("churn-experiment", PROJECT_ID)  # a build run with another --pipeline-name
    create_pipeline("sagemaker-other", "p-other0000000")
    create_pipeline("untagged", None)

    cleanup_handler.handler(event("Delete", response_url), Context())

    assert pipelines() == ["sagemaker-other", "untagged"]
    (answer,) = Responses.received
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert "pipelines ['churn-experiment', 'sagemaker-churn-model']" in answer["Reason"]


def test_create_and_update_leave_the_pipelines(aws, response_url):
    create_pipeline("sagemaker-churn-model", PROJECT_ID)
    for request_type in ("Create", "Update"):
        cleanup_handler.handler(event(request_type, response_url), Context())
    assert pipelines() == ["sagemaker-churn-model"]


def test_an_empty_project_id_deletes_no_pipeline(aws, response_url):
    create_pipeline("sagemaker-churn-model", PROJECT_ID)
    create_pipeline("untagged", None)
    cleanup_handler.handler(event("Delete", response_url, ProjectId=""), Context())
    (answer,) = Responses.received
    assert answer["Status"] == "FAILED" and "ProjectId is empty" in answer["Reason"]
    assert pipelines() == ["sagemaker-churn-model", "untagged"]


def test_the_product_hands_the_project_id_over_and_deletes_only_tagged_pipelines(product):
    """The custom resource passes ProjectId, and the role deletes a pipeline only if it carries the tag."""
    from tests.service_catalog.template_tools import of_type

    (resource,) = of_type(product, "AWS::CloudFormation::CustomResource").values()
    assert resource["Properties"]["ProjectId"] == {"Fn::Sub": "${SageMakerProjectId}"}
    statements = [
        statement
        for role in of_type(product, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    (delete,) = [s for s in statements if "sagemaker:DeletePipeline" in str(s["Action"])]
    assert delete["Condition"] == {
        "StringEquals": {"aws:ResourceTag/sagemaker:project-id": {"Fn::Sub": "${SageMakerProjectId}"}}
    }
