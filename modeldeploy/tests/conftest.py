"""Shared fixtures: a local moto server standing in for AWS, and the repository's own files."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/model-execution"


@pytest.fixture(scope="session")
def moto_endpoint():
    """One moto server for the session; tests isolate themselves with unique resource names."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch):
    """Point boto3 at the moto server with dummy credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def sagemaker(aws_env):
    return boto3.client("sagemaker", region_name=REGION)


@pytest.fixture
def s3(aws_env):
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def group_name(sagemaker):
    """A fresh, empty model package group."""
    name = f"proj-{uuid.uuid4().hex[:10]}"
    sagemaker.create_model_package_group(ModelPackageGroupName=name)
    return name


def register_package(
    sagemaker, group: str, status: str, metadata: dict[str, str] | None = None, quality_report_uri: str | None = None
) -> str:
    """Register a model package the way the ModelBuild pipeline does, with the given approval status."""
    time.sleep(0.005)  # distinct CreationTime for each package
    extra = {}
    if quality_report_uri:
        extra["ModelMetrics"] = {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": quality_report_uri}}
        }
    response = sagemaker.create_model_package(
        **extra,
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
                    "ModelDataUrl": f"s3://sagemaker-project-p-test/{group}/model.tar.gz",
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    },
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties=metadata or {"TargetColumn": "target"},
    )
    return response["ModelPackageArn"]


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """A working copy of the repository files build.py reads, as CodeBuild checks them out."""
    for name in ("endpoint-config-template.yml", "staging-config.json", "prod-config.json"):
        shutil.copy(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
