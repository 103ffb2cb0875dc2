"""Endpoint instances are model servers: N instances answer as N processes, and capacity changes in place."""

from __future__ import annotations

import json
import os
import re
import tarfile
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.services.sagemaker.startup_priority import process_tree
from tests.localcloud.tagged_models import (
    BUCKET,
    Load,
    ask,
    make_config,
    runtime_client,
    upload_tagged_model,
    wait_status,
)


@pytest.fixture(scope="module", autouse=True)
def fast_clock():
    saved = os.environ.get("LOCALCLOUD_TIME_SCALE")
    os.environ["LOCALCLOUD_TIME_SCALE"] = "300"
    yield
    if saved is None:
        os.environ.pop("LOCALCLOUD_TIME_SCALE", None)
    else:
        os.environ["LOCALCLOUD_TIME_SCALE"] = saved


@pytest.fixture(scope="module")
def artifact(cloud, tmp_path_factory):
    s3 = boto3.client("s3", endpoint_url=cloud.url, region_name="us-east-1")
    # each request takes a moment, so concurrent requests overlap and spread over instances
    return upload_tagged_model(s3, tmp_path_factory.mktemp("models"), "blue", delay=0.05)


@pytest.fixture(scope="module")
def two_instances(cloud, artifact):
    sm = boto3.client("sagemaker", endpoint_url=cloud.url, region_name="us-east-1")
    make_config(sm, "two-instances", artifact, instances=2)
    sm.create_endpoint(EndpointName="two-instances", EndpointConfigName="two-instances")
    described = wait_status(sm, "two-instances")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "two-instances"


def _sockets(cloud, name: str) -> list[list[str]]:
    """Each instance's worker sockets, read from its folder as an operator would."""
    found = []
    for socket_file in sorted((cloud.state.root / "endpoints" / "us-east-1" / name).glob("*/*/ml/server-sockets")):
        found.append(socket_file.read_text().split())
    return found


def test_each_instance_is_a_model_server_of_its_own(cloud, aws, two_instances):
    variant = aws("sagemaker").describe_endpoint(EndpointName=two_instances)["ProductionVariants"][0]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    assert len(_sockets(cloud, two_instances)) == 2, "two instances, two model server folders"

    with Load(cloud.url, two_instances, threads=4) as load:
        time.sleep(1.5)
    assert load.failures == []
    assert len(load.instances_between(0, float("inf"))) == 2, "both instances answer"


def test_workers_are_shared_out_between_instances(cloud, two_instances):
    expected = max(1, min(len(os.sched_getaffinity(0)), 4) // 2)
    assert [len(sockets) for sockets in _sockets(cloud, two_instances)] == [expected, expected]


def test_each_instance_logs_to_a_stream_of_its_own(aws, two_instances):
    """As on SageMaker: ``<variant>/<instance id>``, one stream per instance, each with its server's output."""
    logs = aws("logs")
    group = f"/aws/sagemaker/Endpoints/{two_instances}"
    deadline, streams = time.monotonic() + 10, {}
    while time.monotonic() < deadline and (len(streams) < 2 or not all(streams.values())):
        time.sleep(0.2)
        names = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
        streams = {
            name: [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=name)["events"]]
            for name in names
        }
    assert len(streams) == 2, sorted(streams)
    assert all(re.fullmatch(r"AllTraffic/i-[0-9a-f]{17}", name) for name in streams), sorted(streams)
    for name, messages in streams.items():
        assert any("model server listening" in m for m in messages), (name, messages)


def test_scaling_out_and_in_drops_no_request(cloud, aws, two_instances):
    sm = aws("sagemaker")
    with Load(cloud.url, two_instances, threads=3) as load:
        sm.update_endpoint_weights_and_capacities(
            EndpointName=two_instances,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
        )
        during = sm.describe_endpoint(EndpointName=two_instances)
        assert during["EndpointStatus"] == "Updating"
        variant = during["ProductionVariants"][0]
        assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 3)
        assert variant["VariantStatus"][0]["Status"] == "Updating"
        assert variant["VariantStatus"][0]["StatusMessage"] == "Scaling out desired instance count to 3."
        scaled_out = wait_status(sm, two_instances)
        settled_at = time.monotonic()
        time.sleep(1.5)
        assert scaled_out["EndpointStatus"] == "InService", scaled_out.get("FailureReason")
        assert scaled_out["ProductionVariants"][0]["CurrentInstanceCount"] == 3
        assert len(load.instances_between(settled_at, time.monotonic())) == 3

        sm.update_endpoint_weights_and_capacities(
            EndpointName=two_instances,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 1}],
        )
        scaled_in = wait_status(sm, two_instances)
        settled_at = time.monotonic()
        time.sleep(1.0)
        remaining = load.instances_between(settled_at, time.monotonic())
    assert scaled_in["EndpointStatus"] == "InService", scaled_in.get("FailureReason")
    assert scaled_in["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert len(remaining) == 1
    assert len(_sockets(cloud, two_instances)) == 1, "removed instances are stopped and their folders gone"
    assert load.failures == [], load.failures[:3]


def test_capacity_requests_sagemaker_refuses_name_the_field(aws, two_instances):
    sm = aws("sagemaker")
    with pytest.raises(ClientError) as zero:
        sm.update_endpoint_weights_and_capacities(
            EndpointName=two_instances,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 0}],
        )
    assert "DesiredWeightsAndCapacities[0].DesiredInstanceCount is 0" in zero.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as unknown:
        sm.update_endpoint_weights_and_capacities(
            EndpointName=two_instances,
            DesiredWeightsAndCapacities=[{"VariantName": "Purple", "DesiredWeight": 1.0}],
        )
    assert '"Purple" is/are not present' in unknown.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="no-such-endpoint",
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 1.0}],
        )
    assert "Could not find endpoint" in missing.value.response["Error"]["Message"]


def test_weights_move_traffic_between_variants(cloud, aws, artifact):
    sm = aws("sagemaker")
    sm.create_model(
        ModelName="weighted-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/model-execution",
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
            "ModelDataUrl": artifact,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
        },
    )
    variants = [
        {"VariantName": v, "ModelName": "weighted-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        for v in ("One", "Two")
    ]
    variants[0]["InitialVariantWeight"], variants[1]["InitialVariantWeight"] = 1.0, 0.0
    sm.create_endpoint_config(EndpointConfigName="weighted", ProductionVariants=variants)
    sm.create_endpoint(EndpointName="weighted", EndpointConfigName="weighted")
    assert wait_status(sm, "weighted")["EndpointStatus"] == "InService"
    runtime = runtime_client(cloud.url)
    served = {
        runtime.invoke_endpoint(EndpointName="weighted", Body=b"{}", ContentType="application/json")[
            "InvokedProductionVariant"
        ]
        for _ in range(10)
    }
    assert served == {"One"}
    sm.update_endpoint_weights_and_capacities(
        EndpointName="weighted",
        DesiredWeightsAndCapacities=[
            {"VariantName": "One", "DesiredWeight": 0.0},
            {"VariantName": "Two", "DesiredWeight": 1.0},
        ],
    )
    after = wait_status(sm, "weighted")
    assert {v["VariantName"]: v["CurrentWeight"] for v in after["ProductionVariants"]} == {"One": 0.0, "Two": 1.0}
    served = {
        runtime.invoke_endpoint(EndpointName="weighted", Body=b"{}", ContentType="application/json")[
            "InvokedProductionVariant"
        ]
        for _ in range(10)
    }
    assert served == {"Two"}
    assert ask(runtime, "weighted")["model"] == "blue"


SLOW_LOADING = """
import time


def model_fn(model_dir):
    time.sleep(1.5)  # a model that takes a while to load
    return "loaded"


def predict_fn(data, model):
    return model


def output_fn(prediction, accept):
    return prediction, "text/plain"
"""


def _niceness(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[16])


def _server_processes(cloud, name: str) -> list[int]:
    """The model server processes (inside the sandbox) of the endpoint's instances."""
    found = []
    for record in (cloud.state.root / "endpoints" / "processes").glob("*.json"):
        entry = json.loads(record.read_text())
        if f"/{name}/" not in entry["folder"]:
            continue
        for pid in process_tree(entry["pid"]):
            try:
                if b"model_server" in open(f"/proc/{pid}/cmdline", "rb").read():
                    found.append(pid)
            except OSError:
                pass
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a server its priority back needs root")
def test_a_starting_server_loads_at_a_lower_priority_and_serves_at_the_normal_one(cloud, artifact, tmp_path):
    s3 = boto3.client("s3", endpoint_url=cloud.url, region_name="us-east-1")
    sm = boto3.client("sagemaker", endpoint_url=cloud.url, region_name="us-east-1")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(SLOW_LOADING)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "code", arcname="code")
    s3.upload_file(str(tmp_path / "model.tar.gz"), BUCKET, "slow-loading/model.tar.gz")
    make_config(sm, "slow-loading", f"s3://{BUCKET}/slow-loading/model.tar.gz")
    sm.create_endpoint(EndpointName="slow-loading", EndpointConfigName="slow-loading")
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the local cloud runs in this process
    nicer = min(19, base + 10)
    deadline, loading = time.monotonic() + 60, []
    # the server starts nicer (its sandbox under nice): wait until its processes are seen, model still loading
    while set(loading) != {nicer} and time.monotonic() < deadline:
        loading = [_niceness(pid) for pid in _server_processes(cloud, "slow-loading")]
        time.sleep(0.05)
    assert sm.describe_endpoint(EndpointName="slow-loading")["EndpointStatus"] == "Creating", "still loading"
    assert loading and set(loading) == {nicer}, "loading runs nicer than the local cloud"
    assert wait_status(sm, "slow-loading")["EndpointStatus"] == "InService"
    serving = [_niceness(pid) for pid in _server_processes(cloud, "slow-loading")]
    assert serving and set(serving) == {base}, "once it answered its ping it serves at the normal priority"
