"""SNS alarm actions: CloudWatch's notification, published to the topic and read from a subscribed SQS
queue, for metric and composite alarms; a topic that does not exist fails the action in the history."""

from __future__ import annotations

import json
import re

import pytest

from localcloud import ACCOUNT_ID
from tests.localcloud.conftest import reset_moto
from tests.localcloud.metrics_helpers import TimeScale, put_sum_alarm, wait_for
from tests.localcloud.test_endpoints import Local

SCALE = 300
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with TimeScale(SCALE):
        reset_moto()
        instance = Local(tmp_path_factory.mktemp("alarm-actions-state"))
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def pager(local):
    """A topic with an SQS queue subscribed: (topic ARN, queue URL)."""
    sns, sqs = local.client("sns"), local.client("sqs")
    topic = sns.create_topic(Name="pager")["TopicArn"]
    url = sqs.create_queue(QueueName="pager-inbox")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    return topic, url


def notifications(local, url: str, count: int) -> list[dict]:
    """The SNS envelopes of the next ``count`` notifications in the queue, each with its Message parsed."""
    sqs, found = local.client("sqs"), []

    def more():
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            envelope = json.loads(message["Body"])
            envelope["Message"] = json.loads(envelope["Message"])
            found.append(envelope)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(found) >= count

    assert wait_for(more, timeout=10), f"{len(found)} of {count} notifications arrived: {found}"
    return found


def actions_of(local, name: str, kind: str = "MetricAlarm") -> list[tuple[str, dict]]:
    items = local.client("cloudwatch").describe_alarm_history(
        AlarmName=name, AlarmTypes=[kind], HistoryItemType="Action", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    return [(item["HistorySummary"], json.loads(item["HistoryData"])) for item in items]


def test_a_metric_alarm_notifies_its_topic_with_cloudwatchs_message(local, pager):
    topic, inbox = pager
    cloudwatch = local.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="disk-full",
        AlarmDescription="the data disk is nearly full",
        Namespace="Team/Disks",
        MetricName="used-percent",
        Dimensions=[{"Name": "Volume", "Value": "data"}],
        Statistic="Maximum",
        Unit="Percent",
        Period=60,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=90.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="ignore",  # no data: only SetAlarmState moves it
        AlarmActions=[topic],
        OKActions=[topic],
    )
    arn = cloudwatch.describe_alarms(AlarmNames=["disk-full"])["MetricAlarms"][0]["AlarmArn"]
    cloudwatch.set_alarm_state(AlarmName="disk-full", StateValue="ALARM", StateReason="93 % used")
    [fired] = notifications(local, inbox, 1)
    assert fired["TopicArn"] == topic and fired["Type"] == "Notification"
    assert fired["Subject"] == 'ALARM: "disk-full" in US East (N. Virginia)'
    message = fired["Message"]
    assert STAMP.fullmatch(message.pop("StateChangeTime")), fired
    assert STAMP.fullmatch(message.pop("AlarmConfigurationUpdatedTimestamp")), fired
    assert message == {
        "AlarmName": "disk-full",
        "AlarmDescription": "the data disk is nearly full",
        "AWSAccountId": arn.split(":")[4],
        "NewStateValue": "ALARM",
        "NewStateReason": "93 % used",
        "Region": "US East (N. Virginia)",
        "AlarmArn": arn,
        "OldStateValue": "INSUFFICIENT_DATA",
        "OKActions": [topic],
        "AlarmActions": [topic],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "used-percent",
            "Namespace": "Team/Disks",
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Unit": "Percent",
            "Dimensions": [{"value": "data", "name": "Volume"}],
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 90.0,
            "TreatMissingData": "ignore",
            "EvaluateLowSampleCountPercentile": "",
        },
    }

    cloudwatch.set_alarm_state(AlarmName="disk-full", StateValue="OK", StateReason="cleaned up")
    [calm] = notifications(local, inbox, 1)
    assert calm["Subject"] == 'OK: "disk-full" in US East (N. Virginia)'
    assert (calm["Message"]["OldStateValue"], calm["Message"]["NewStateValue"]) == ("ALARM", "OK")
    assert (
        actions_of(local, "disk-full")
        == [
            (f"Successfully executed action {topic}", {"actionState": "Succeeded", "notificationResource": topic}),
        ]
        * 2
    )


def test_a_composite_alarm_notifies_with_its_rule_and_triggering_child(local, pager):
    topic, inbox = pager
    cloudwatch = local.client("cloudwatch")
    put_sum_alarm(cloudwatch, "api-5xx", "Team/Api", "5xx", TreatMissingData="ignore")
    child = cloudwatch.describe_alarms(AlarmNames=["api-5xx"])["MetricAlarms"][0]["AlarmArn"]
    cloudwatch.put_composite_alarm(
        AlarmName="api-broken", AlarmRule="ALARM(api-5xx)", AlarmDescription="call the api team", AlarmActions=[topic]
    )
    cloudwatch.set_alarm_state(AlarmName="api-5xx", StateValue="ALARM", StateReason="errors")
    [fired] = notifications(local, inbox, 1)
    assert fired["Subject"] == 'ALARM: "api-broken" in US East (N. Virginia)'
    message = fired["Message"]
    assert (message["AlarmName"], message["AlarmDescription"]) == ("api-broken", "call the api team")
    assert (message["OldStateValue"], message["NewStateValue"]) == ("OK", "ALARM")
    assert message["AlarmRule"] == "ALARM(api-5xx)" and "Trigger" not in message
    assert message["NewStateReason"].startswith(f"{child} transitioned to ALARM at ")
    [triggering] = message["TriggeringChildren"]
    assert (triggering["Arn"], triggering["State"]["Value"]) == (child, "ALARM")
    assert STAMP.fullmatch(triggering["State"]["Timestamp"])
    assert actions_of(local, "api-broken", "CompositeAlarm")[0][1]["actionState"] == "Succeeded"


def test_a_topic_that_does_not_exist_fails_the_action_in_the_history(local):
    cloudwatch = local.client("cloudwatch")
    missing = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:nobody-listens"
    put_sum_alarm(cloudwatch, "unheard", "Team/Unheard", "m", TreatMissingData="ignore", AlarmActions=[missing])
    cloudwatch.set_alarm_state(AlarmName="unheard", StateValue="ALARM", StateReason="nobody hears this")
    recorded = wait_for(lambda: actions_of(local, "unheard"), timeout=10)
    assert recorded == [
        (
            f"Failed to execute action {missing}. Received error: Topic does not exist: {missing} (SNS NotFound)",
            {"actionState": "Failed", "notificationResource": missing},
        )
    ]
