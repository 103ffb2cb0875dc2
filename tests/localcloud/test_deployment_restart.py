"""A deployment cut off by a stop of the local cloud: the endpoint comes back on what it served."""

from __future__ import annotations

import os
import time

import pytest

from tests.localcloud.conftest import reset_moto
from tests.localcloud.tagged_models import ask, make_config, runtime_client, upload_tagged_model, wait_status
from tests.localcloud.test_endpoints import Local


@pytest.fixture()
def local(tmp_path):
    saved = os.environ.get("LOCALCLOUD_TIME_SCALE")
    os.environ["LOCALCLOUD_TIME_SCALE"] = "300"
    reset_moto()
    instance = Local(tmp_path / "state")
    yield instance
    instance.close()
    if saved is None:
        os.environ.pop("LOCALCLOUD_TIME_SCALE", None)
    else:
        os.environ["LOCALCLOUD_TIME_SCALE"] = saved


def test_a_deployment_cut_off_by_a_stop_comes_back_in_service_on_the_old_configuration(local, tmp_path):
    s3, sm = local.client("s3"), local.client("sagemaker")
    make_config(sm, "blue", upload_tagged_model(s3, tmp_path, "blue"), instances=2)
    make_config(sm, "green", upload_tagged_model(s3, tmp_path, "green"), instances=2)
    sm.create_endpoint(EndpointName="restarted", EndpointConfigName="blue")
    assert wait_status(sm, "restarted")["EndpointStatus"] == "InService"
    sm.update_endpoint(
        EndpointName="restarted",
        EndpointConfigName="green",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                    "WaitIntervalInSeconds": 3600,
                }
            }
        },
    )
    deadline = time.monotonic() + 60
    statuses: list[str] = []
    while time.monotonic() < deadline and "Baking" not in statuses:
        summary = sm.describe_endpoint(EndpointName="restarted").get("PendingDeploymentSummary") or {}
        statuses = [s["Status"] for v in summary.get("ProductionVariants", []) for s in v.get("VariantStatus", [])]
        time.sleep(0.02)
    assert "Baking" in statuses

    local.restart()
    sm = local.client("sagemaker")
    after = wait_status(sm, "restarted", statuses=("InService", "Failed"))
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == "blue"
    assert "The local cloud stopped during the deployment of endpoint configuration green" in after["FailureReason"]
    assert "PendingDeploymentSummary" not in after
    assert after["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    runtime = runtime_client(local.cloud.url)
    assert {ask(runtime, "restarted")["model"] for _ in range(10)} == {"blue"}
    time.sleep(1.0)
    assert sm.describe_endpoint(EndpointName="restarted")["EndpointStatus"] == "InService", "no deployment resumes"


def test_an_endpoint_brought_back_by_a_restart_keeps_its_last_modified_time(local, tmp_path):
    s3, sm = local.client("s3"), local.client("sagemaker")
    make_config(sm, "kept", upload_tagged_model(s3, tmp_path, "kept"))
    sm.create_endpoint(EndpointName="kept", EndpointConfigName="kept")
    before = wait_status(sm, "kept")
    assert before["EndpointStatus"] == "InService"
    time.sleep(1.1)  # a new LastModifiedTime would differ by at least this much
    local.restart()
    sm = local.client("sagemaker")
    assert ask(runtime_client(local.cloud.url), "kept")["model"] == "kept", "serving again"
    after = sm.describe_endpoint(EndpointName="kept")
    assert after["EndpointStatus"] == "InService"
    assert after["LastModifiedTime"] == before["LastModifiedTime"], "nothing about the endpoint changed"
    assert after["CreationTime"] == before["CreationTime"]
