"""Application Auto Scaling that acts on SageMaker variants: step scaling driven by an alarm, target
tracking on InvocationsPerInstance under load (made by CloudFormation), within min/max and cooldowns."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.localcloud.conftest import reset_moto
from tests.localcloud.metrics_helpers import TimeScale, scripted_endpoint, scripted_model_url, send, wait_for
from tests.localcloud.test_endpoints import Local

SCALE = 300  # a 60 s period is 0.2 s, a 600 s cooldown 2 s
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with TimeScale(SCALE):
        reset_moto()
        instance = Local(tmp_path_factory.mktemp("scaling-state"))
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def model_url(local, tmp_path_factory):
    s3 = local.client("s3")
    s3.create_bucket(Bucket="scaling-models")
    return scripted_model_url(s3, "scaling-models", tmp_path_factory.mktemp("scripted"))


def resource(endpoint: str) -> str:
    return f"endpoint/{endpoint}/variant/AllTraffic"


def activities(local, endpoint: str) -> list[dict]:
    """Oldest first."""
    answer = local.client("application-autoscaling").describe_scaling_activities(
        ServiceNamespace="sagemaker", ResourceId=resource(endpoint)
    )
    return list(reversed(answer["ScalingActivities"]))


def instance_count(local, endpoint: str) -> tuple[str, int]:
    described = local.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    return described["EndpointStatus"], described["ProductionVariants"][0]["CurrentInstanceCount"]


def settled_at(local, endpoint: str, count: int, timeout: float = 90.0) -> bool:
    return wait_for(lambda: instance_count(local, endpoint) == ("InService", count), timeout=timeout, step=0.1)


class Load:
    """Requests to an endpoint from a thread, ``pause`` seconds apart, until stopped."""

    def __init__(self, local, endpoint: str, pause: float):
        self.pause, self.sent = pause, 0
        self._stop = threading.Event()
        runtime = local.client("sagemaker-runtime")

        def run():
            while not self._stop.is_set():
                send(runtime, endpoint, "ok")
                self.sent += 1
                if self.pause:
                    self._stop.wait(self.pause)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)


def test_a_step_policy_scales_out_on_its_alarm_up_to_max_one_cooldown_apart(local, model_url):
    endpoint = scripted_endpoint(local, "stepped", model_url)
    scaling, cloudwatch = local.client("application-autoscaling"), local.client("cloudwatch")
    scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource(endpoint),
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=3,
    )
    policy = scaling.put_scaling_policy(
        PolicyName="add-one",
        ServiceNamespace="sagemaker",
        ResourceId=resource(endpoint),
        ScalableDimension=DIMENSION,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            "Cooldown": 600,
        },
    )["PolicyARN"]
    cloudwatch.put_metric_alarm(
        AlarmName="backlog-high",
        Namespace="Team/Queue",
        MetricName="backlog",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",  # silence counts as a backlog: the alarm stays in ALARM
        AlarmActions=[policy],
    )
    assert wait_for(lambda: len([a for a in activities(local, endpoint) if a["StatusCode"] == "Successful"]) == 2, 120)
    assert settled_at(local, endpoint, 3)
    first, second = activities(local, endpoint)
    assert [first["Description"], second["Description"]] == [
        "Setting desired instance count to 2.",
        "Setting desired instance count to 3.",
    ]
    assert first["Cause"] == "monitor alarm backlog-high in state ALARM triggered policy add-one"
    assert second["StatusMessage"] == (
        "Successfully set desired instance count to 3. Change successfully fulfilled by sagemaker."
    )
    assert (second["StartTime"] - first["EndTime"]).total_seconds() >= 600 / SCALE  # the policy's cooldown
    time.sleep(2 * 600 / SCALE)  # two more cooldowns with the alarm still in ALARM: the maximum holds
    assert len(activities(local, endpoint)) == 2 and instance_count(local, endpoint) == ("InService", 3)
    everything = scaling.describe_scaling_activities(
        ServiceNamespace="sagemaker", ResourceId=resource(endpoint), IncludeNotScaledActivities=True
    )["ScalingActivities"]
    not_scaled = everything[0]  # the policy asked for a fourth instance: recorded once, not at every evaluation
    assert len(everything) == 3 and not_scaled["StatusCode"] == "Failed"
    assert not_scaled["NotScaledReasons"] == [{"Code": "AlreadyAtMaxCapacity", "MaxCapacity": 3, "CurrentCapacity": 3}]
    cloudwatch.delete_alarms(AlarmNames=["backlog-high"])


def test_target_tracking_from_a_stack_scales_out_under_load_and_back_in_when_it_drops(local, model_url):
    endpoint = scripted_endpoint(local, "tracked", model_url)
    template = {
        "Resources": {
            "Target": {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {
                    "ServiceNamespace": "sagemaker",
                    "ScalableDimension": DIMENSION,
                    "ResourceId": resource(endpoint),
                    "MinCapacity": 1,
                    "MaxCapacity": 2,
                },
            },
            "Policy": {
                "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                "Properties": {
                    "PolicyName": "tracked-invocations",
                    "PolicyType": "TargetTrackingScaling",
                    "ScalingTargetId": {"Ref": "Target"},
                    "TargetTrackingScalingPolicyConfiguration": {
                        "PredefinedMetricSpecification": {
                            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                        },
                        "TargetValue": 4,
                        "ScaleOutCooldown": 60,
                        "ScaleInCooldown": 900,
                    },
                },
            },
        }
    }
    cfn = local.client("cloudformation")
    cfn.create_stack(StackName="tracked-scaling", TemplateBody=json.dumps(template))
    assert wait_for(
        lambda: cfn.describe_stacks(StackName="tracked-scaling")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE", 30
    )
    prefix = f"TargetTracking-{resource(endpoint)}-"
    made = local.client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    by_kind = {("High" if "-AlarmHigh-" in a["AlarmName"] else "Low"): a for a in made}
    assert sorted(by_kind) == ["High", "Low"] and len(made) == 2
    assert (by_kind["High"]["MetricName"], by_kind["High"]["Statistic"], by_kind["High"]["Threshold"]) == (
        "InvocationsPerInstance",
        "Sum",
        4.0,
    )
    assert (by_kind["High"]["EvaluationPeriods"], by_kind["Low"]["EvaluationPeriods"]) == (3, 15)
    assert (
        by_kind["Low"]["Threshold"] == pytest.approx(3.6)
        and by_kind["Low"]["ComparisonOperator"] == "LessThanThreshold"
    )

    heavy = Load(local, endpoint, pause=0)  # far above 4 invocations per instance per (scaled) minute
    try:
        assert settled_at(local, endpoint, 2), activities(local, endpoint)
        time.sleep(1.0)  # five more minutes of load: the maximum (2) holds
        assert instance_count(local, endpoint)[1] == 2
    finally:
        heavy.stop()
    out = activities(local, endpoint)
    assert [a["Description"] for a in out] == ["Setting desired instance count to 2."]
    assert out[0]["Cause"].startswith(f"monitor alarm {by_kind['High']['AlarmName']} in state ALARM triggered policy")

    light = Load(local, endpoint, pause=0.08)  # about 2.5 per 0.2 s: below 90 % of the target for each of 2
    try:
        assert settled_at(local, endpoint, 1, timeout=60), activities(local, endpoint)
    finally:
        light.stop()
    scaled_in = activities(local, endpoint)[-1]
    assert scaled_in["Description"] == "Setting desired instance count to 1."
    assert by_kind["Low"]["AlarmName"] in scaled_in["Cause"]
    assert (scaled_in["StartTime"] - out[0]["EndTime"]).total_seconds() >= 900 / SCALE  # the scale-in cooldown
    assert instance_count(local, endpoint) == ("InService", 1)  # never below MinCapacity
    cfn.delete_stack(StackName="tracked-scaling")
    assert wait_for(lambda: not local.client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"], 30)


def test_a_target_tracking_update_replaces_its_alarms(local):
    scaling = local.client("application-autoscaling")
    target = {"ServiceNamespace": "sagemaker", "ResourceId": resource("paper"), "ScalableDimension": DIMENSION}
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=4)
    config = {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "TargetValue": 100.0,
    }
    first = scaling.put_scaling_policy(
        PolicyName="p", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=config, **target
    )
    second = scaling.put_scaling_policy(
        PolicyName="p",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={**config, "TargetValue": 200.0, "DisableScaleIn": True},
        **target,
    )
    names = lambda answer: {a["AlarmName"] for a in answer["Alarms"]}  # noqa: E731
    assert len(names(first)) == 2 and len(names(second)) == 1 and not names(first) & names(second)
    listed = local.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"TargetTracking-{resource('paper')}-")
    assert [(a["AlarmName"], a["Threshold"]) for a in listed["MetricAlarms"]] == [(next(iter(names(second))), 200.0)]
    with pytest.raises(scaling.exceptions.ValidationException) as refused:
        scaling.put_scaling_policy(
            PolicyName="q",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"
                },
                "TargetValue": 0.5,
            },
            **target,
        )
    assert "SageMakerVariantInvocationsPerInstance" in str(refused.value)


def test_scaling_activities_survive_a_restart(local):
    before = activities(local, "stepped")
    assert len(before) == 2
    local.restart()
    assert activities(local, "stepped") == before
