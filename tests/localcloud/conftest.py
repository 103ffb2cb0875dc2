"""A local cloud per test module, on a free port, with its own state folder."""

from __future__ import annotations

import os

import boto3
import pytest
from moto.moto_api._internal.models import moto_api_backend

from localcloud.core.server import LocalCloud


def reset_moto() -> None:
    """moto keeps its backends per process: forget them so each cloud starts from its state folder."""
    moto_api_backend.reset()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    reset_moto()
    state_dir = tmp_path_factory.mktemp("state")
    instance = LocalCloud(state_dir).start()
    saved = {k: os.environ.get(k) for k in instance.client_environment()}
    os.environ.update(instance.client_environment())
    yield instance
    instance.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reset_moto()


@pytest.fixture(autouse=True)
def fresh_boto3_session():
    """boto3's default session keeps the first credentials it read; every local cloud has its own key,
    so each test starts with a session that reads the environment afresh."""
    boto3.DEFAULT_SESSION = None
    yield
    boto3.DEFAULT_SESSION = None


@pytest.fixture()
def aws(cloud):
    """boto3 clients bound to the local cloud: ``aws("s3").list_buckets()``."""
    return lambda service: boto3.client(service, endpoint_url=cloud.url, region_name="us-east-1")
