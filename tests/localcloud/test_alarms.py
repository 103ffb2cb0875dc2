"""CloudWatch alarms that evaluate: state changes with CloudWatch's reasons, history, EventBridge
events, TreatMissingData, SetAlarmState, CloudFormation alarms, and state across a restart."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.localcloud.conftest import reset_moto
from tests.localcloud.metrics_helpers import (
    TimeScale,
    put_sum_alarm,
    scripted_endpoint,
    scripted_model_url,
    send,
    wait_for,
)
from tests.localcloud.test_endpoints import Local

SCALE = 300  # a 60 s period is 0.2 s of real time


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with TimeScale(SCALE):
        reset_moto()
        instance = Local(tmp_path_factory.mktemp("alarms-state"))
        yield instance
        instance.close()


def alarm(local, name: str) -> dict:
    return local.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def wait_state(local, name: str, state: str, timeout: float = 30.0) -> dict:
    found = wait_for(lambda: (a := alarm(local, name))["StateValue"] == state and a, timeout=timeout)
    assert found, f"{name} is {alarm(local, name)['StateValue']}, not {state}: {alarm(local, name)['StateReason']}"
    return found


def put_alarm(local, name: str, namespace: str, metric: str, dimensions: dict | None = None, **overrides) -> None:
    put_sum_alarm(local.client("cloudwatch"), name, namespace, metric, dimensions, **overrides)


def reached(local, name: str, state: str, timeout: float = 30.0) -> dict:
    """The newState of the first history item that moved the alarm to ``state`` (however briefly it stayed)."""

    def look():
        items = local.client("cloudwatch").describe_alarm_history(
            AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
        )["AlarmHistoryItems"]
        for item in items:
            new = json.loads(item["HistoryData"])["newState"]
            if new["stateValue"] == state:
                return new
        return None

    found = wait_for(look, timeout=timeout)
    assert found, f"{name} never went to {state}: {state_changes(local, name)}"
    return found


def state_changes(local, name: str) -> list[str]:
    items = local.client("cloudwatch").describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    return [item["HistorySummary"] for item in reversed(items["AlarmHistoryItems"])]


@pytest.fixture(scope="module")
def events_queue(local):
    """Every CloudWatch Alarm State Change on the default bus, delivered to an SQS queue by a rule."""
    sqs, events = local.client("sqs"), local.client("events")
    url = sqs.create_queue(QueueName="alarm-changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="alarm-changes",
        EventPattern=json.dumps({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}),
    )
    events.put_targets(Rule="alarm-changes", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def received(local, url: str, alarm_name: str) -> list[dict]:
    sqs, found = local.client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            event = json.loads(message["Body"])
            if event["detail"]["alarmName"] == alarm_name:
                found.append(event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_an_alarm_on_5xx_errors_goes_to_alarm_with_the_reason_history_and_event(local, events_queue, tmp_path):
    s3 = local.client("s3")
    s3.create_bucket(Bucket="alarm-models")
    endpoint = scripted_endpoint(local, "guarded", scripted_model_url(s3, "alarm-models", tmp_path))
    put_alarm(
        local,
        "guarded-5xx",
        "AWS/SageMaker",
        "Invocation5XXErrors",
        {"EndpointName": endpoint, "VariantName": "AllTraffic"},
        EvaluationPeriods=2,
        DatapointsToAlarm=1,
        TreatMissingData="notBreaching",
    )
    runtime = local.client("sagemaker-runtime")
    assert send(runtime, endpoint, "ok") == 200
    calm = wait_state(local, "guarded-5xx", "OK")
    assert calm["StateReason"].startswith("Threshold Crossed:")

    assert send(runtime, endpoint, "fail") == 424
    firing = reached(local, "guarded-5xx", "ALARM")  # from the history: ALARM may last only two periods
    assert re.fullmatch(
        r"Threshold Crossed: 1 out of the last 2 datapoints \[1\.0 \(\d\d/\d\d/\d\d \d\d:\d\d:\d\d\)\] "
        r"was greater than or equal to the threshold \(1\.0\) \(minimum 1 datapoint for OK -> ALARM transition\)\.",
        firing["stateReason"],
    ), firing["stateReason"]
    data = firing["stateReasonData"]
    assert data["statistic"] == "Sum" and data["period"] == 60 and data["threshold"] == 1.0
    assert 1.0 in data["recentDatapoints"]

    back = wait_state(local, "guarded-5xx", "OK")  # no more requests: silence is not breaching
    assert back["StateReason"] == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as "
        "[NonBreaching]."
    )
    assert state_changes(local, "guarded-5xx") == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]
    history = local.client("cloudwatch").describe_alarm_history(AlarmName="guarded-5xx", ScanBy="TimestampAscending")
    first, second = history["AlarmHistoryItems"][:2]
    assert (first["HistoryItemType"], first["HistorySummary"]) == ("ConfigurationUpdate", 'Alarm "guarded-5xx" created')
    assert json.loads(second["HistoryData"])["oldState"] == {
        "stateValue": "INSUFFICIENT_DATA",
        "stateReason": "Unchecked: Initial alarm creation",
    }
    events = wait_for(lambda: len(found := received(local, events_queue, "guarded-5xx")) >= 3 and found, timeout=10)
    assert [(e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in events] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
    ]
    fired = events[1]
    assert fired["source"] == "aws.cloudwatch" and fired["detail-type"] == "CloudWatch Alarm State Change"
    assert fired["resources"] == [alarm(local, "guarded-5xx")["AlarmArn"]]
    assert fired["detail"]["state"]["reason"] == firing["stateReason"]
    assert json.loads(fired["detail"]["state"]["reasonData"]) == firing["stateReasonData"]
    assert fired["detail"]["state"]["timestamp"] > fired["detail"]["previousState"]["timestamp"]
    metric = fired["detail"]["configuration"]["metrics"][0]["metricStat"]
    assert metric["metric"] == {
        "namespace": "AWS/SageMaker",
        "name": "Invocation5XXErrors",
        "dimensions": {"EndpointName": endpoint, "VariantName": "AllTraffic"},
    }
    assert metric["period"] == 60 and metric["stat"] == "Sum"


def test_treat_missing_data_decides_what_silence_means(local):
    cloudwatch = local.client("cloudwatch")
    for treat in ("missing", "ignore", "breaching", "notBreaching"):
        put_alarm(local, f"silence-{treat}", "Team/Jobs", "failures", TreatMissingData=treat)
    cloudwatch.put_metric_data(Namespace="Team/Jobs", MetricData=[{"MetricName": "failures", "Value": 5.0}])
    wait_state(local, "silence-breaching", "ALARM")  # perhaps before the datapoint: silence breaches too
    for treat in ("missing", "ignore", "notBreaching"):
        reason = reached(local, f"silence-{treat}", "ALARM")["stateReason"]
        assert reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [5.0 (")
    # the datapoint's period is over and no data follows
    assert wait_state(local, "silence-missing", "INSUFFICIENT_DATA")["StateReason"] == (
        "Insufficient Data: 1 datapoint was unknown."
    )
    assert wait_state(local, "silence-notBreaching", "OK")["StateReason"] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
        "[NonBreaching]."
    )
    time.sleep(10 * 60 / SCALE)  # ten more periods of silence
    assert alarm(local, "silence-ignore")["StateValue"] == "ALARM"  # ignore: the state holds
    assert alarm(local, "silence-breaching")["StateValue"] == "ALARM"  # breaching: silence breaches
    assert state_changes(local, "silence-breaching") == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]


def test_set_alarm_state_is_honoured_until_the_next_evaluation(local):
    cloudwatch = local.client("cloudwatch")
    put_alarm(local, "manual", "Team/Manual", "queue-depth", TreatMissingData="notBreaching")
    wait_state(local, "manual", "OK")
    cloudwatch.set_alarm_state(AlarmName="manual", StateValue="ALARM", StateReason="testing the pager")
    assert "Alarm updated from OK to ALARM" in state_changes(local, "manual")
    assert reached(local, "manual", "ALARM") == {"stateValue": "ALARM", "stateReason": "testing the pager"}
    assert wait_state(local, "manual", "OK")["StateReason"].endswith("treated as [NonBreaching].")
    with pytest.raises(cloudwatch.exceptions.ResourceNotFound):
        cloudwatch.set_alarm_state(AlarmName="no-such-alarm", StateValue="ALARM", StateReason="x")


def test_percentile_alarm_reads_extended_statistics(local):
    cloudwatch = local.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="slow-p95",
        Namespace="Team/Api",
        MetricName="latency",
        ExtendedStatistic="p95",
        Period=60,
        EvaluationPeriods=1,
        Threshold=300_000,
        ComparisonOperator="GreaterThanThreshold",
    )
    values = [1000.0] * 90 + [900_000.0] * 10  # p95 is in the slow tenth, the average is not
    cloudwatch.put_metric_data(Namespace="Team/Api", MetricData=[{"MetricName": "latency", "Values": values}])
    firing = wait_state(local, "slow-p95", "ALARM")
    assert json.loads(firing["StateReasonData"])["extendedStatistic"] == "p95"
    assert "was greater than the threshold (300000.0)" in firing["StateReason"]


def test_bad_alarms_are_refused_naming_the_field(local):
    cloudwatch = local.client("cloudwatch")
    base = {
        "AlarmName": "bad",
        "Namespace": "Team/Bad",
        "MetricName": "m",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 2,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    for change, words in (
        ({"Period": 45}, "Period 45"),
        ({"DatapointsToAlarm": 3}, "DatapointsToAlarm (3) must be between 1 and EvaluationPeriods (2)"),
        ({"TreatMissingData": "sometimes"}, "TreatMissingData"),
        ({"ExtendedStatistic": "p99"}, "Statistic or ExtendedStatistic"),
    ):
        with pytest.raises(cloudwatch.exceptions.ClientError) as refused:
            cloudwatch.put_metric_alarm(**{**base, **change})
        assert words in str(refused.value)
    assert cloudwatch.describe_alarms(AlarmNames=["bad"])["MetricAlarms"] == []


def test_an_alarm_made_by_cloudformation_evaluates(local):
    template = {
        "Resources": {
            "Backlog": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "stack-backlog",
                    "Namespace": "Team/Stack",
                    "MetricName": "backlog",
                    "Statistic": "Maximum",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                    "Threshold": 10,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "breaching",
                },
            }
        }
    }
    cfn = local.client("cloudformation")
    cfn.create_stack(StackName="alarm-stack", TemplateBody=json.dumps(template))
    status = wait_for(
        lambda: (
            (s := cfn.describe_stacks(StackName="alarm-stack")["Stacks"][0]["StackStatus"]).endswith("COMPLETE") and s
        ),
        timeout=30,
    )
    assert status == "CREATE_COMPLETE"
    assert wait_state(local, "stack-backlog", "ALARM")["StateReason"].endswith("treated as [Breaching].")


def test_alarm_state_and_history_survive_a_restart(local):
    cloudwatch = local.client("cloudwatch")
    put_alarm(local, "kept", "Team/Kept", "m", TreatMissingData="ignore")
    cloudwatch.set_alarm_state(AlarmName="kept", StateValue="ALARM", StateReason="set before the restart")
    before = alarm(local, "kept")
    local.restart()
    time.sleep(5 * 60 / SCALE)  # a few evaluations after the restart (ignore: no data keeps the state)
    after = alarm(local, "kept")
    assert (after["StateValue"], after["StateReason"]) == ("ALARM", "set before the restart")
    assert after["StateUpdatedTimestamp"] == before["StateUpdatedTimestamp"]
    assert state_changes(local, "kept") == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]
    assert "Alarm updated from OK to ALARM" in state_changes(local, "guarded-5xx")
