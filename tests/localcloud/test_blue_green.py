"""UpdateEndpoint as SageMaker runs it: blue/green traffic shifting, baking, auto-rollback on alarms."""

from __future__ import annotations

import json
import os
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.tagged_models import (
    ALARM_NAMESPACE,
    IMAGE,
    AlarmTrip,
    Load,
    make_config,
    put_breachable_alarm,
    upload_tagged_model,
    wait_status,
)

SCALE = 300.0  # 600 AWS seconds of baking take 2 s


@pytest.fixture(scope="module", autouse=True)
def fast_clock():
    saved = os.environ.get("LOCALCLOUD_TIME_SCALE")
    os.environ["LOCALCLOUD_TIME_SCALE"] = str(SCALE)
    yield
    if saved is None:
        os.environ.pop("LOCALCLOUD_TIME_SCALE", None)
    else:
        os.environ["LOCALCLOUD_TIME_SCALE"] = saved


def client(cloud, service: str):
    return boto3.client(service, endpoint_url=cloud.url, region_name="us-east-1")


@pytest.fixture(scope="module")
def artifacts(cloud, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    s3 = client(cloud, "s3")
    return {tag: upload_tagged_model(s3, folder, tag, delay=0.02) for tag in ("blue", "green")}


@pytest.fixture(scope="module")
def deployment_events(cloud):
    """Every 'SageMaker Endpoint Deployment State Change' on the default bus, into a queue."""
    sqs, events = client(cloud, "sqs"), client(cloud, "events")
    queue = sqs.create_queue(QueueName="deployment-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="deployment-events",
        EventPattern=json.dumps(
            {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Endpoint Deployment State Change"]}
        ),
    )
    events.put_targets(Rule="deployment-events", Targets=[{"Id": "queue", "Arn": arn}])

    def read(endpoint: str) -> list[dict]:
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                event = json.loads(message["Body"])
                found.append(event)
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        read.seen.extend(found)
        return [e for e in read.seen if e["detail"]["EndpointName"] == endpoint]

    read.seen = []
    return read


def blue_endpoint(cloud, artifacts, name: str, instances: int = 2) -> None:
    sm = client(cloud, "sagemaker")
    make_config(sm, f"{name}-blue", artifacts["blue"], instances=instances)
    make_config(sm, f"{name}-green", artifacts["green"], instances=instances)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-blue")
    described = wait_status(sm, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")


def watch_phases(sm, name: str, until=("InService", "Failed"), timeout: float = 120) -> tuple[list[str], dict, dict]:
    """Poll DescribeEndpoint: the VariantStatus phases seen in order, when each began, the final description."""
    phases: list[str] = []
    began: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] in until:
            return phases, began, described
        for variant in (described.get("PendingDeploymentSummary") or {}).get("ProductionVariants", []):
            for status in variant.get("VariantStatus", []):
                label = f"{status['Status']}: {status['StatusMessage']}"
                if not phases or phases[-1] != label:
                    phases.append(label)
                    began[label] = time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"endpoint {name} still {described['EndpointStatus']} after {timeout} s")


def baking(seconds: int, setting: str, capacity: str) -> str:
    """A Baking phase as DescribeEndpoint shows it (AWS's message)."""
    return f"Baking: Baking for {seconds} seconds ({setting}) with traffic enabled on {capacity} instance(s)."


def canary_config(wait: int, termination: int = 0, alarms: list[str] | None = None) -> dict:
    config = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                "WaitIntervalInSeconds": wait,
            },
            "TerminationWaitInSeconds": termination,
            "MaximumExecutionTimeoutInSeconds": 3600,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def test_canary_shifts_half_then_all_with_no_failed_request(cloud, artifacts, deployment_events):
    sm = client(cloud, "sagemaker")
    blue_endpoint(cloud, artifacts, "canary")
    with Load(cloud.url, "canary", threads=3) as load:
        time.sleep(0.5)
        sm.update_endpoint(
            EndpointName="canary",
            EndpointConfigName="canary-green",
            DeploymentConfig=canary_config(wait=900, termination=300),
        )
        phases, began, final = watch_phases(sm, "canary")
        ended = time.monotonic()
        time.sleep(0.5)
    canary_bake = baking(900, "WaitIntervalInSeconds", "canary capacity of 1")
    final_bake = baking(900, "WaitIntervalInSeconds", "full capacity of 2")  # "a final baking period"
    termination = baking(300, "TerminationWaitInSeconds", "full capacity of 2")
    assert [p.split(":")[0] for p in phases][:1] == ["Creating"], phases
    assert canary_bake in phases and final_bake in phases and termination in phases, phases
    assert phases.index(canary_bake) < phases.index(final_bake) < phases.index(termination)
    # while the canary bakes, both fleets answer: half the capacity of green, so about half the traffic
    during = load.models_between(began[canary_bake] + 0.2, began[canary_bake] + 2.8)
    share = during["green"] / sum(during.values())
    assert 0.3 < share < 0.7, during
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == "canary-green"
    assert "FailureReason" not in final and "PendingDeploymentSummary" not in final
    assert final["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert set(load.models_between(ended + 0.1, time.monotonic())) == {"green"}
    assert load.failures == [], load.failures[:3]

    events = deployment_events("canary")
    statuses = [
        v["VariantStatus"][0]["Status"]
        for e in events
        for v in e["detail"].get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
    ]
    # the canary's bake, then the final bake and the termination wait (each announced with its message)
    assert statuses == ["Creating", "ActivatingTraffic", "Baking", "ActivatingTraffic", "Baking", "Baking"], statuses
    assert events[-1]["detail"]["EndpointStatus"] == "IN_SERVICE"
    assert events[-1]["detail"]["EndpointConfigName"] == "canary-green"
    assert events[-1]["source"] == "aws.sagemaker" and events[-1]["resources"] == [final["EndpointArn"]]


@pytest.mark.parametrize(
    "routing",
    [
        {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
        {"Type": "LINEAR", "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1}, "WaitIntervalInSeconds": 300},
    ],
    ids=["all-at-once", "linear"],
)
def test_all_at_once_and_linear_drop_no_request(cloud, artifacts, routing):
    sm = client(cloud, "sagemaker")
    name = f"shift-{routing['Type'].lower().replace('_', '-')}"
    blue_endpoint(cloud, artifacts, name)
    with Load(cloud.url, name, threads=3) as load:
        sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=f"{name}-green",
            DeploymentConfig={"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}},
        )
        phases, _, final = watch_phases(sm, name)
        ended = time.monotonic()
        time.sleep(0.3)
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == f"{name}-green"
    assert load.failures == [], load.failures[:3]
    assert set(load.models_between(ended + 0.1, time.monotonic())) == {"green"}
    bakes = [p for p in phases if p.startswith("Baking")]
    if routing["Type"] == "LINEAR":  # a baking period for each step, the last one too
        assert bakes == [
            baking(300, "WaitIntervalInSeconds", "partial capacity of 1"),
            baking(300, "WaitIntervalInSeconds", "full capacity of 2"),
        ], phases
    else:
        assert bakes == [baking(300, "WaitIntervalInSeconds", "full capacity of 2")], phases


def test_an_alarm_during_the_bake_rolls_back_to_the_old_model(cloud, artifacts, deployment_events):
    sm, cloudwatch = client(cloud, "sagemaker"), client(cloud, "cloudwatch")
    blue_endpoint(cloud, artifacts, "guarded")
    put_breachable_alarm(cloudwatch, "guarded-5xx")
    put_breachable_alarm(cloudwatch, "guarded-latency")
    with Load(cloud.url, "guarded", threads=3) as load:
        sm.update_endpoint(
            EndpointName="guarded",
            EndpointConfigName="guarded-green",
            DeploymentConfig=canary_config(wait=3000, alarms=["guarded-latency", "guarded-5xx"]),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            summary = sm.describe_endpoint(EndpointName="guarded").get("PendingDeploymentSummary") or {}
            statuses = [s["Status"] for v in summary.get("ProductionVariants", []) for s in v.get("VariantStatus", [])]
            if "Baking" in statuses:
                break
            time.sleep(0.02)
        assert "Baking" in statuses
        time.sleep(1.0)
        assert load.models_between(time.monotonic() - 0.8, time.monotonic())["green"] > 0, "the canary takes traffic"
        alarmed_at = time.monotonic()
        with AlarmTrip(cloudwatch, "guarded-5xx"):
            final = wait_status(sm, "guarded", timeout=30)
        rolled_back_at = time.monotonic()
        time.sleep(0.5)
    assert rolled_back_at - alarmed_at < 5, "the alarm is read throughout the bake (3000 s here would be 10 s)"
    assert final["EndpointStatus"] == "InService"
    assert final["EndpointConfigName"] == "guarded-blue"
    assert "guarded-5xx" in final["FailureReason"] and "rolled back" in final["FailureReason"]
    assert "guarded-latency" not in final["FailureReason"]
    assert set(load.models_between(rolled_back_at + 0.1, time.monotonic())) == {"blue"}
    assert load.failures == [], load.failures[:3]
    folders = list((cloud.state.root / "endpoints" / "us-east-1" / "guarded").glob("*/*/ml/server-sockets"))
    assert len(folders) == 2, "the green instances are removed, the blue ones stay"

    events = deployment_events("guarded")
    assert events[-1]["detail"]["EndpointStatus"] == "IN_SERVICE"
    assert events[-1]["detail"]["EndpointConfigName"] == "guarded-blue"
    assert "guarded-5xx" in events[-1]["detail"]["FailureReason"]


def test_a_composite_alarm_in_the_rollback_configuration_rolls_back_when_a_child_fires(cloud, artifacts):
    """Teams guard a deployment with one composite (5XX or latency): it is read like a metric alarm."""
    sm, cloudwatch = client(cloud, "sagemaker"), client(cloud, "cloudwatch")
    blue_endpoint(cloud, artifacts, "composed")
    put_breachable_alarm(cloudwatch, "composed-5xx")
    put_breachable_alarm(cloudwatch, "composed-latency")
    cloudwatch.put_composite_alarm(
        AlarmName="composed-guard", AlarmRule='ALARM("composed-5xx") OR ALARM("composed-latency")'
    )
    sm.update_endpoint(
        EndpointName="composed",
        EndpointConfigName="composed-green",
        DeploymentConfig=canary_config(wait=3000, alarms=["composed-guard"]),
    )
    deadline, statuses = time.monotonic() + 60, []
    while "Baking" not in statuses and time.monotonic() < deadline:
        summary = sm.describe_endpoint(EndpointName="composed").get("PendingDeploymentSummary") or {}
        statuses = [s["Status"] for v in summary.get("ProductionVariants", []) for s in v.get("VariantStatus", [])]
        time.sleep(0.02)
    assert "Baking" in statuses, "a composite that exists is not a missing alarm"
    with AlarmTrip(cloudwatch, "composed-latency"):
        final = wait_status(sm, "composed", timeout=30)
    assert (final["EndpointStatus"], final["EndpointConfigName"]) == ("InService", "composed-blue")
    assert "composed-guard" in final["FailureReason"] and "rolled back" in final["FailureReason"]


def test_deployment_configs_sagemaker_refuses_are_refused_naming_the_field(cloud, artifacts):
    sm = client(cloud, "sagemaker")
    blue_endpoint(cloud, artifacts, "refusing", instances=1)
    bad = canary_config(wait=60)
    bad["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"]["Value"] = 80
    with pytest.raises(ClientError) as too_big:
        sm.update_endpoint(EndpointName="refusing", EndpointConfigName="refusing-green", DeploymentConfig=bad)
    assert "TrafficRoutingConfiguration.CanarySize.Value is 80" in too_big.value.response["Error"]["Message"]
    rolling = {
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}, "WaitIntervalInSeconds": 0}
    }
    with pytest.raises(ClientError) as whole_fleet:  # one batch of one instance would be 100% of it
        sm.update_endpoint(EndpointName="refusing", EndpointConfigName="refusing-green", DeploymentConfig=rolling)
    message = whole_fleet.value.response["Error"]["Message"]
    assert "RollingUpdatePolicy.MaximumBatchSize.Value is 1 instance(s)" in message, message
    assert "between 5% and 50% of variant AllTraffic's 1 instance(s)" in message, message
    canary_of_all = canary_config(wait=60)  # a canary of the variant's one instance is all of it
    canary_of_all["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"] = {
        "Type": "INSTANCE_COUNT",
        "Value": 1,
    }
    with pytest.raises(ClientError) as whole_canary:
        sm.update_endpoint(EndpointName="refusing", EndpointConfigName="refusing-green", DeploymentConfig=canary_of_all)
    message = whole_canary.value.response["Error"]["Message"]
    assert "CanarySize.Value is 1 instance(s): it must be at most 50% of variant AllTraffic's 1" in message, message
    thin_linear = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5},
                "WaitIntervalInSeconds": 60,
            }
        }
    }
    with pytest.raises(ClientError, match=r"LinearStepSize.Value is 5: give a whole number from 10 to 50"):
        sm.update_endpoint(EndpointName="refusing", EndpointConfigName="refusing-green", DeploymentConfig=thin_linear)
    rolling["RollingUpdatePolicy"]["MaximumBatchSize"] = {"Type": "CAPACITY_PERCENT", "Value": 60}
    with pytest.raises(ClientError, match=r"MaximumBatchSize.Value is 60: give a whole number from 5 to 50"):
        sm.update_endpoint(EndpointName="refusing", EndpointConfigName="refusing-green", DeploymentConfig=rolling)
    assert "LastDeploymentConfig" not in sm.describe_endpoint(EndpointName="refusing"), (
        "a refused update changes nothing"
    )
    assert sm.describe_endpoint(EndpointName="refusing")["EndpointStatus"] == "InService"
    missing_alarm = canary_config(wait=60, alarms=["no-such-alarm"])
    sm.update_endpoint(EndpointName="refusing", EndpointConfigName="refusing-green", DeploymentConfig=missing_alarm)
    final = wait_status(sm, "refusing", statuses=("InService",))
    assert final["EndpointConfigName"] == "refusing-blue"
    assert "no-such-alarm" in final["FailureReason"] and "do not exist" in final["FailureReason"]


def _stack_template() -> str:
    return json.dumps(
        {
            "Parameters": {"ModelData": {"Type": "String"}, "Wait": {"Type": "Number"}},
            "Resources": {
                "Model": {
                    "Type": "AWS::SageMaker::Model",
                    "Properties": {
                        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/model-execution",
                        "PrimaryContainer": {
                            "Image": IMAGE,
                            "ModelDataUrl": {"Ref": "ModelData"},
                            "Environment": {
                                "SAGEMAKER_PROGRAM": "inference.py",
                                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                            },
                        },
                    },
                },
                "Config": {
                    "Type": "AWS::SageMaker::EndpointConfig",
                    "Properties": {
                        "ProductionVariants": [
                            {
                                "VariantName": "AllTraffic",
                                "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
                                "InitialInstanceCount": 2,
                                "InstanceType": "ml.m5.large",
                                "InitialVariantWeight": 1.0,
                            }
                        ]
                    },
                },
                "ErrorsAlarm": {
                    "Type": "AWS::CloudWatch::Alarm",
                    "Properties": {
                        "AlarmName": "stacked-5xx",
                        "Namespace": ALARM_NAMESPACE,
                        "MetricName": "stacked-5xx",
                        "Statistic": "Sum",
                        "Period": 10,
                        "EvaluationPeriods": 1,
                        "Threshold": 1,
                        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                        "TreatMissingData": "notBreaching",
                    },
                },
                "Endpoint": {
                    "Type": "AWS::SageMaker::Endpoint",
                    "Properties": {
                        "EndpointName": "stacked",
                        "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
                        "DeploymentConfig": {
                            "BlueGreenUpdatePolicy": {
                                "TrafficRoutingConfiguration": {
                                    "Type": "CANARY",
                                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
                                    "WaitIntervalInSeconds": {"Ref": "Wait"},
                                },
                                "TerminationWaitInSeconds": 0,
                                "MaximumExecutionTimeoutInSeconds": 3600,
                            },
                            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": {"Ref": "ErrorsAlarm"}}]},
                        },
                    },
                },
            },
        }
    )


def settled_stack(cfn, name: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.1)


def test_a_stack_update_rolled_back_by_an_alarm_fails_and_production_keeps_the_old_model(cloud, artifacts):
    cfn, sm, cloudwatch = client(cloud, "cloudformation"), client(cloud, "sagemaker"), client(cloud, "cloudwatch")
    runtime = boto3.client("sagemaker-runtime", endpoint_url=cloud.url, region_name="us-east-1")
    parameters = [{"ParameterKey": "Wait", "ParameterValue": "3000"}]
    cfn.create_stack(
        StackName="stacked",
        TemplateBody=_stack_template(),
        Parameters=[*parameters, {"ParameterKey": "ModelData", "ParameterValue": artifacts["blue"]}],
    )
    created = settled_stack(cfn, "stacked")
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")

    update = threading.Thread(
        target=cfn.update_stack,
        kwargs={
            "StackName": "stacked",
            "TemplateBody": _stack_template(),
            "Parameters": [*parameters, {"ParameterKey": "ModelData", "ParameterValue": artifacts["green"]}],
        },
    )
    update.start()
    deadline = time.monotonic() + 60
    statuses: list[str] = []
    while time.monotonic() < deadline and "Baking" not in statuses:
        summary = sm.describe_endpoint(EndpointName="stacked").get("PendingDeploymentSummary") or {}
        statuses = [s["Status"] for v in summary.get("ProductionVariants", []) for s in v.get("VariantStatus", [])]
        time.sleep(0.02)
    assert "Baking" in statuses
    with AlarmTrip(cloudwatch, "stacked-5xx"):
        update.join(timeout=60)
        stack = settled_stack(cfn, "stacked")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in cfn.describe_stack_events(StackName="stacked")["StackEvents"]
    ]
    failed = [
        e
        for e in cfn.describe_stack_events(StackName="stacked")["StackEvents"]
        if e["LogicalResourceId"] == "Endpoint" and e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert failed and "stacked-5xx" in failed[-1]["ResourceStatusReason"], [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in cfn.describe_stack_events(StackName="stacked")["StackEvents"]
    ]
    endpoint = wait_status(sm, "stacked")
    assert endpoint["EndpointStatus"] == "InService"
    assert "stacked-5xx" in endpoint["FailureReason"], "the endpoint still says why the update was rolled back"
    # the rollback puts the previous configuration back (re-created from the previous template)
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == artifacts["blue"]
    answers = {
        json.loads(runtime.invoke_endpoint(EndpointName="stacked", Body=b"{}")["Body"].read())["model"]
        for _ in range(10)
    }
    assert answers == {"blue"}
    cfn.delete_stack(StackName="stacked")


def rolling_config(wait: int, batch: int = 1, rollback_batch: int | None = None, alarms: list[str] | None = None):
    policy = {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": batch}, "WaitIntervalInSeconds": wait}
    if rollback_batch:
        policy["RollbackMaximumBatchSize"] = {"Type": "INSTANCE_COUNT", "Value": rollback_batch}
    config = {"RollingUpdatePolicy": policy}
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def server_folders(cloud, name: str) -> set[str]:
    """The instances that run now: one folder with live worker sockets per model server."""
    root = cloud.state.root / "endpoints" / "us-east-1" / name
    return {path.parents[2].name for path in root.glob("*/*/ml/server-sockets")}


def test_rolling_update_replaces_one_batch_at_a_time_with_no_failed_request(cloud, artifacts, deployment_events):
    sm = client(cloud, "sagemaker")
    blue_endpoint(cloud, artifacts, "rolling")
    most = 0
    with Load(cloud.url, "rolling", threads=3) as load:
        sm.update_endpoint(
            EndpointName="rolling", EndpointConfigName="rolling-green", DeploymentConfig=rolling_config(600)
        )
        phases: list[str] = []
        began: dict[str, float] = {}
        while (described := sm.describe_endpoint(EndpointName="rolling"))["EndpointStatus"] == "Updating":
            most = max(most, len(server_folders(cloud, "rolling")))
            for variant in (described.get("PendingDeploymentSummary") or {}).get("ProductionVariants", []):
                label = f"{variant['VariantStatus'][0]['Status']}: {variant['VariantStatus'][0]['StatusMessage']}"
                if not phases or phases[-1] != label:
                    phases.append(label)
                    began[label] = time.monotonic()
            time.sleep(0.02)
        ended = time.monotonic()
        time.sleep(0.3)
    first_bake = (
        "Baking: Baking for 600 seconds (WaitIntervalInSeconds) with traffic enabled on 1 of 2 instance(s) "
        "of the new fleet."
    )
    assert first_bake in phases, phases
    assert "Deleting: Terminating 1 instance(s) of the old fleet." in phases
    # while the first batch bakes, one new and one old instance share the traffic
    during = load.models_between(began[first_bake] + 0.2, began[first_bake] + 1.6)
    assert during["green"] and during["blue"], during
    assert most <= 3, "never more than the endpoint's count plus one batch"
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "rolling-green"
    assert "FailureReason" not in described and described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert described["LastDeploymentConfig"]["RollingUpdatePolicy"]["MaximumBatchSize"]["Value"] == 1
    assert set(load.models_between(ended + 0.1, time.monotonic())) == {"green"}
    assert load.failures == [], load.failures[:3]
    assert len(server_folders(cloud, "rolling")) == 2
    statuses = [
        v["VariantStatus"][0]["Status"]
        for e in deployment_events("rolling")
        for v in e["detail"].get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
    ]
    assert statuses == ["Creating"] + ["Creating", "ActivatingTraffic", "Baking", "Deleting"] * 2, statuses


def test_rolling_update_rolled_back_by_an_alarm_brings_the_old_fleet_back(cloud, artifacts):
    sm, cloudwatch = client(cloud, "sagemaker"), client(cloud, "cloudwatch")
    blue_endpoint(cloud, artifacts, "rollback-rolling")
    put_breachable_alarm(cloudwatch, "rollback-rolling-5xx")
    before = server_folders(cloud, "rollback-rolling")
    with Load(cloud.url, "rollback-rolling", threads=3) as load:
        sm.update_endpoint(
            EndpointName="rollback-rolling",
            EndpointConfigName="rollback-rolling-green",
            DeploymentConfig=rolling_config(600, alarms=["rollback-rolling-5xx"]),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            described = sm.describe_endpoint(EndpointName="rollback-rolling")
            variants = (described.get("PendingDeploymentSummary") or {}).get("ProductionVariants", [])
            if (
                variants
                and variants[0]["VariantStatus"][0]["Status"] == "Creating"
                and "batch 2" in variants[0]["VariantStatus"][0]["StatusMessage"]
            ):
                break
            time.sleep(0.02)
        assert len(before & server_folders(cloud, "rollback-rolling")) == 1, "one old instance was terminated"
        with AlarmTrip(cloudwatch, "rollback-rolling-5xx"):
            final = wait_status(sm, "rollback-rolling", timeout=60)
        rolled_back_at = time.monotonic()
        time.sleep(0.5)
    assert final["EndpointStatus"] == "InService" and final["EndpointConfigName"] == "rollback-rolling-blue"
    assert "rollback-rolling-5xx" in final["FailureReason"] and "rolled back" in final["FailureReason"]
    assert final["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    after = server_folders(cloud, "rollback-rolling")
    assert len(after) == 2 and len(after & before) == 1, "the terminated old instance was provisioned again"
    assert set(load.models_between(rolled_back_at + 0.1, time.monotonic())) == {"blue"}
    assert load.failures == [], load.failures[:3]
