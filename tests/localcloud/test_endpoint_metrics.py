"""SageMaker endpoint invocation metrics in CloudWatch: what a user reads back after invoking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localcloud.services.cloudwatch import metric_store
from tests.localcloud.conftest import reset_moto
from tests.localcloud.metrics_helpers import (
    TimeScale,
    scripted_endpoint,
    scripted_model_url,
    send,
    statistics,
    total,
    wait_for,
)
from tests.localcloud.test_endpoints import Local

SCALE = 600  # a 60 s period is 0.1 s of real time


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with TimeScale(SCALE):
        reset_moto()
        instance = Local(tmp_path_factory.mktemp("metrics-state"))
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def model_url(local, tmp_path_factory):
    s3 = local.client("s3")
    s3.create_bucket(Bucket="metrics-models")
    return scripted_model_url(s3, "metrics-models", tmp_path_factory.mktemp("scripted"))


@pytest.fixture(scope="module")
def served(local, model_url):
    """Two variants: blue answers 5 requests and refuses 2 (415), green answers 3 and breaks once (500)."""
    name = scripted_endpoint(local, "metered", model_url, ("blue", "green"))
    runtime = local.client("sagemaker-runtime")
    seen = [send(runtime, name, "ok", "blue") for _ in range(4)] + [send(runtime, name, "slow", "blue")]
    seen += [send(runtime, name, "bad", "blue") for _ in range(2)]
    seen += [send(runtime, name, "ok", "green") for _ in range(3)] + [send(runtime, name, "fail", "green")]
    assert seen == [200] * 5 + [424, 424] + [200] * 3 + [424]
    return name


def dims(endpoint: str, variant: str) -> dict[str, str]:
    return {"EndpointName": endpoint, "VariantName": variant}


def test_invocations_and_errors_are_counted_per_variant(local, served):
    cloudwatch = local.client("cloudwatch")
    blue, green = dims(served, "blue"), dims(served, "green")
    assert total(cloudwatch, "Invocations", blue) == 7
    assert total(cloudwatch, "Invocations", green) == 4
    assert total(cloudwatch, "Invocation4XXErrors", blue) == 2
    assert total(cloudwatch, "Invocation4XXErrors", green) == 0
    assert total(cloudwatch, "Invocation5XXErrors", blue) == 0
    assert total(cloudwatch, "Invocation5XXErrors", green) == 1
    assert total(cloudwatch, "InvocationModelErrors", blue) == 2
    assert total(cloudwatch, "InvocationModelErrors", green) == 1
    # as SageMaker sends them: one value per request, 1 for an error and 0 otherwise
    assert total(cloudwatch, "Invocation5XXErrors", green, "SampleCount") == 4
    assert total(cloudwatch, "InvocationsPerInstance", blue) == pytest.approx(7.0)  # one instance


def test_latencies_are_in_microseconds_with_percentiles(local, served):
    cloudwatch = local.client("cloudwatch")
    points = statistics(cloudwatch, "ModelLatency", dims(served, "blue"))
    assert {point["Unit"] for point in points} == {"Microseconds"}
    assert sum(point["SampleCount"] for point in points) == 7  # every request the model answered, errors too
    assert max(point["Maximum"] for point in points) >= 60_000  # the slow request slept 60 ms
    assert min(point["Minimum"] for point in points) > 0
    p99 = statistics(cloudwatch, "ModelLatency", dims(served, "blue"), ExtendedStatistics=["p50", "p99"])
    assert max(point["ExtendedStatistics"]["p99"] for point in p99) >= 55_000
    assert min(point["ExtendedStatistics"]["p50"] for point in p99) < 60_000
    overhead = statistics(cloudwatch, "OverheadLatency", dims(served, "green"))
    assert sum(point["SampleCount"] for point in overhead) == 4 and all(p["Unit"] == "Microseconds" for p in overhead)


def test_periods_are_read_on_the_local_time_scale(local, model_url):
    """Period 60 is 60/SCALE real seconds: requests 0.5 s apart land in different datapoints, each
    stamped with the wall-clock start of its period."""
    name = scripted_endpoint(local, "periods", model_url)
    runtime, cloudwatch = local.client("sagemaker-runtime"), local.client("cloudwatch")
    send(runtime, name, "ok")
    first = datetime.now(UTC)
    wait_for(lambda: datetime.now(UTC) - first > timedelta(seconds=0.5), timeout=2)
    send(runtime, name, "ok")
    send(runtime, name, "ok")
    points = statistics(cloudwatch, "Invocations", dims(name, "AllTraffic"), period=60)
    # the first request has a datapoint of its own; the next two (sent back to back, so in one period
    # unless the machine is slow enough to split them) come at least 0.4 s later
    assert points[0]["Sum"] == 1.0 and sum(point["Sum"] for point in points) == 3.0 and len(points) in (2, 3)
    gap = (points[1]["Timestamp"] - points[0]["Timestamp"]).total_seconds()
    assert gap >= 0.4
    period = 60 / SCALE
    for point in points:
        assert point["Timestamp"].timestamp() / period == pytest.approx(round(point["Timestamp"].timestamp() / period))


def test_list_metrics_names_every_endpoint_metric(local, served):
    listed = local.client("cloudwatch").list_metrics(
        Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": served}]
    )["Metrics"]
    names = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in listed}
    for metric in (
        "Invocations",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "InvocationModelErrors",
        "InvocationsPerInstance",
        "ModelLatency",
        "OverheadLatency",
    ):
        for variant in ("blue", "green"):
            assert (metric, (("EndpointName", served), ("VariantName", variant))) in names


def test_during_a_deployment_the_new_fleet_also_reports_its_endpoint_config(local, model_url):
    name = scripted_endpoint(local, "shifting", model_url)
    sm, runtime, cloudwatch = local.client("sagemaker"), local.client("sagemaker-runtime"), local.client("cloudwatch")
    sm.create_endpoint_config(
        EndpointConfigName="shifting-config-2",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "shifting-AllTraffic",
                "InitialInstanceCount": 2,  # the canary is one of them, baking while the old fleet serves too
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.update_endpoint(
        EndpointName=name,
        EndpointConfigName="shifting-config-2",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "CANARY",
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                    "WaitIntervalInSeconds": 600,  # 1 s here: invocations during the bake reach the new fleet
                },
                "TerminationWaitInSeconds": 0,
            }
        },
    )
    sent = 0
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating":
        sent += send(runtime, name, "ok") == 200
    assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == "shifting-config-2"
    new_fleet = {"EndpointName": name, "VariantName": "AllTraffic", "EndpointConfigName": "shifting-config-2"}
    during = total(cloudwatch, "Invocations", new_fleet)
    assert 0 < during <= sent
    assert total(cloudwatch, "Invocations", dims(name, "AllTraffic")) == sent  # every fleet, every request
    old_fleet = {**new_fleet, "EndpointConfigName": "shifting-config"}
    assert total(cloudwatch, "Invocations", old_fleet) == 0  # the serving fleet reports without it
    send(runtime, name, "ok")  # after the deployment: the endpoint's own dimensions only
    assert total(cloudwatch, "Invocations", new_fleet) == during


def test_user_metrics_still_work_beside_endpoint_metrics(local):
    cloudwatch = local.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="Team/Scores",
        MetricData=[{"MetricName": "accuracy", "Values": [0.5, 0.75, 1.0], "Unit": "None"}],
    )
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="Team/Scores",
        MetricName="accuracy",
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Average", "SampleCount"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == 3
    assert len(points) == 1 and points[0]["Average"] == pytest.approx(0.75)
    with pytest.raises(cloudwatch.exceptions.InvalidParameterValueException) as refused:
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{"MetricName": "Invocations", "Value": 1}])
    assert "AWS/ is reserved" in str(refused.value)


def test_a_period_finer_than_the_local_buckets_is_refused_naming_the_fix(local):
    now = datetime.now(UTC)
    with pytest.raises(local.client("cloudwatch").exceptions.InvalidParameterValueException) as refused:
        local.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            StartTime=now - timedelta(minutes=1),
            EndTime=now,
            Period=5,
            Statistics=["Sum"],
        )
    assert "use 10, 30 or a multiple of 60" in str(refused.value)


def user_total(cloudwatch, namespace: str, metric: str) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_the_metric_log_stays_near_the_size_of_what_is_kept(local, monkeypatch):
    monkeypatch.setattr(metric_store, "COMPACT_BYTES", 4096)
    cloudwatch, log = local.client("cloudwatch"), local.state_dir / "cloudwatch" / metric_store.LOG_FILE
    before, largest, added = log.stat().st_size, 0, 0
    line = len('{"k": ["123456789012", "us-east-1", "Team/Log", "n", []], "t": 0.0, "u": null, "n": 1.0}')
    while added * line < 4 * before + 200_000:  # well past three times what the log keeps
        cloudwatch.put_metric_data(Namespace="Team/Log", MetricData=[{"MetricName": "n", "Value": 1.0}] * 1000)
        added += 1000
        largest = max(largest, log.stat().st_size)
    assert user_total(cloudwatch, "Team/Log", "n") == added
    # rewritten from memory once it grows by three times what it keeps (plus one call's lines); without that
    # it would reach before + added * line, which is more than 5 * before + 200 kB
    assert largest < 4 * before + 100_000
    local.written_to_the_log = added


def test_metrics_survive_a_restart(local, served):
    cloudwatch = local.client("cloudwatch")
    before = total(cloudwatch, "Invocations", dims(served, "blue"))
    local.restart()
    assert total(local.client("cloudwatch"), "Invocations", dims(served, "blue")) == before == 7
    assert user_total(local.client("cloudwatch"), "Team/Log", "n") == local.written_to_the_log
