"""Durability is the gateway's, declared per operation: a handler of ours that changes moto's state is
saved before its answer without saving by hand, and one declared as changing nothing is not."""

from __future__ import annotations

import urllib.request

import pytest
from moto.s3.models import s3_backends
from werkzeug.wrappers import Response

from localcloud import ACCOUNT_ID
from localcloud.core import durability
from localcloud.core.server import LocalCloud
from tests.localcloud.conftest import reset_moto
from tests.localcloud.signing import signed_headers


def _start(state_dir) -> LocalCloud:
    reset_moto()
    return LocalCloud(state_dir).start()


def _post(cloud, path: str) -> int:
    headers = signed_headers(cloud, "POST", path, service="sagemaker")
    request = urllib.request.Request(f"{cloud.url}{path}", data=b"", method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def _bucket_maker(name: str):
    def make(call):  # changes moto's state in-process and saves nothing itself
        s3_backends[ACCOUNT_ID]["aws"].create_bucket(name, "us-east-1")
        return Response(b"{}", mimetype="application/json")

    return make


def test_a_change_made_by_a_handler_of_ours_survives_a_stop_without_a_save_of_its_own(tmp_path):
    cloud = _start(tmp_path)
    cloud.gateway.route("POST", "/_test/changes")(_bucket_maker("made-by-our-handler"))
    cloud.gateway.route("POST", "/_test/declared-read", changes_state=False)(_bucket_maker("declared-read"))
    try:
        assert _post(cloud, "/_test/changes") == 200
        assert _post(cloud, "/_test/declared-read") == 200
    finally:
        cloud.stop()  # no snapshot at stop: what is on disk is what each answer left there

    again = _start(tmp_path)
    try:
        buckets = {b["Name"] for b in again.client("s3").list_buckets()["Buckets"]}
        assert "made-by-our-handler" in buckets
        assert "declared-read" not in buckets, "an operation declared as changing nothing was snapshotted"
    finally:
        again.stop()
        reset_moto()


@pytest.mark.parametrize(
    ("method", "operation", "changes"),
    [
        ("POST", "CreateModelPackageGroup", True),
        ("POST", "UpdateModelPackage", True),
        ("POST", "ReceiveMessage", True),  # moves a message out of sight: a change
        ("POST", "DescribeModelPackage", False),
        ("POST", "ListPipelineExecutionSteps", False),
        ("PUT", None, True),  # a REST write, signed or presigned alike
        ("DELETE", None, True),
        ("GET", None, False),
        ("HEAD", None, False),
    ],
)
def test_which_operations_change_state_follows_aws_naming(method, operation, changes):
    assert durability.changes_state(method, operation) is changes


def test_a_declaration_overrides_the_name():
    assert durability.changes_state("POST", None, declared=False) is False
    assert durability.changes_state("GET", "GetSessionToken", declared=True) is True
