"""Composite alarms: an AlarmRule over other alarms, judged when a child changes state (SetAlarmState or
real metric data), with CloudWatch's reasons, history, events and refusals, and across a restart."""

from __future__ import annotations

import json
import re

import pytest

from tests.localcloud.conftest import reset_moto
from tests.localcloud.metrics_helpers import TimeScale, put_sum_alarm, wait_for
from tests.localcloud.test_endpoints import Local

SCALE = 300  # a 60 s period is 0.2 s of real time
REASON = re.compile(
    r"(?P<arn>arn:aws:cloudwatch:us-east-1:\d{12}:alarm:\S+) transitioned to (?P<state>[A-Z_]+) at "
    r"\w+day \d\d \w+, \d{4} \d\d:\d\d:\d\d UTC"
)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with TimeScale(SCALE):
        reset_moto()
        instance = Local(tmp_path_factory.mktemp("composite-alarms-state"))
        yield instance
        instance.close()


def put_child(local, name: str, **overrides) -> str:
    """A metric alarm no data reaches (TreatMissingData ignore: only SetAlarmState moves it); its ARN."""
    cloudwatch = local.client("cloudwatch")
    put_sum_alarm(cloudwatch, name, "Team/Composite", name, **{"TreatMissingData": "ignore", **overrides})
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]


def composite(local, name: str) -> dict:
    found = local.client("cloudwatch").describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])
    return found["CompositeAlarms"][0]


def set_state(local, name: str, state: str) -> None:
    local.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test sets {state}")


def state_changes(local, name: str) -> list[str]:
    items = local.client("cloudwatch").describe_alarm_history(
        AlarmName=name, AlarmTypes=["CompositeAlarm"], HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    return [item["HistorySummary"] for item in items]


def triggering(alarm: dict) -> list[tuple[str, str]]:
    return [(t["arn"], t["state"]["value"]) for t in json.loads(alarm["StateReasonData"])["triggeringAlarms"]]


@pytest.fixture(scope="module")
def changes_queue(local):
    """Every CloudWatch Alarm State Change on the default bus, delivered to an SQS queue by a rule."""
    sqs, events = local.client("sqs"), local.client("events")
    url = sqs.create_queue(QueueName="composite-changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="composite-changes",
        EventPattern=json.dumps({"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}),
    )
    events.put_targets(Rule="composite-changes", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def events_of(local, url: str, alarm_name: str) -> list[dict]:
    sqs, found = local.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            event = json.loads(message["Body"])
            if event["detail"]["alarmName"] == alarm_name:
                found.append(event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_composite_with_and_or_not_follows_its_children(local, changes_queue):
    errors = put_child(local, "web-errors")
    put_child(local, "web-latency")
    maintenance = put_child(local, "web-maintenance")
    rule = f'(ALARM("web-errors") OR ALARM(web-latency)) AND NOT ALARM("{maintenance}")'  # quoted, bare, ARN
    local.client("cloudwatch").put_composite_alarm(AlarmName="web-down", AlarmRule=rule, AlarmDescription="pages")

    created = composite(local, "web-down")  # judged at creation: no child in ALARM
    assert (created["StateValue"], created["AlarmRule"], created["AlarmDescription"]) == ("OK", rule, "pages")

    set_state(local, "web-errors", "ALARM")
    firing = composite(local, "web-down")
    assert firing["StateValue"] == "ALARM"
    assert REASON.fullmatch(firing["StateReason"]).group("arn", "state") == (errors, "ALARM")
    assert triggering(firing) == [(errors, "ALARM")]

    set_state(local, "web-maintenance", "ALARM")  # NOT ALARM(maintenance) is false now
    quiet = composite(local, "web-down")
    assert quiet["StateValue"] == "OK" and triggering(quiet) == [(maintenance, "ALARM")]
    set_state(local, "web-latency", "ALARM")  # the rule stays false: no change, no history
    assert composite(local, "web-down")["StateReason"] == quiet["StateReason"]
    set_state(local, "web-maintenance", "OK")
    assert composite(local, "web-down")["StateValue"] == "ALARM"
    set_state(local, "web-errors", "OK")  # web-latency still fires
    assert composite(local, "web-down")["StateValue"] == "ALARM"
    set_state(local, "web-latency", "OK")
    assert composite(local, "web-down")["StateValue"] == "OK"

    assert state_changes(local, "web-down") == [
        "Alarm updated from INSUFFICIENT_DATA to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]
    cloudwatch = local.client("cloudwatch")
    assert cloudwatch.describe_alarm_history(AlarmName="web-down")["AlarmHistoryItems"] == []  # metric alarms only
    assert cloudwatch.describe_alarms(AlarmNames=["web-down"])["CompositeAlarms"] == []  # likewise
    both = cloudwatch.describe_alarms(AlarmNamePrefix="web-", AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    assert [a["AlarmName"] for a in both["CompositeAlarms"]] == ["web-down"] and len(both["MetricAlarms"]) == 3

    events = wait_for(lambda: len(found := events_of(local, changes_queue, "web-down")) >= 5 and found, timeout=10)
    assert [(e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in events][:2] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
    ]
    assert events[1]["detail"]["configuration"] == {"description": "pages", "alarmRule": rule}
    assert events[1]["resources"] == [firing["AlarmArn"]]


def test_a_composite_follows_a_metric_alarm_fed_by_real_data(local):
    cloudwatch = local.client("cloudwatch")
    backlog = put_child(local, "queue-backlog", TreatMissingData="notBreaching")
    cloudwatch.put_composite_alarm(AlarmName="queue-stuck", AlarmRule="ALARM(queue-backlog) AND TRUE")
    assert wait_for(lambda: composite(local, "queue-stuck")["StateValue"] == "OK", timeout=10)

    cloudwatch.put_metric_data(Namespace="Team/Composite", MetricData=[{"MetricName": "queue-backlog", "Value": 7.0}])

    def went_to_alarm():
        items = cloudwatch.describe_alarm_history(
            AlarmName="queue-stuck", AlarmTypes=["CompositeAlarm"], HistoryItemType="StateUpdate"
        )["AlarmHistoryItems"]
        news = [json.loads(item["HistoryData"])["newState"] for item in items]
        return next((new for new in news if new["stateValue"] == "ALARM"), None)

    fired = wait_for(went_to_alarm, timeout=20)  # from the history: ALARM lasts about one period
    assert fired, state_changes(local, "queue-stuck")
    assert REASON.fullmatch(fired["stateReason"]).group("arn", "state") == (backlog, "ALARM")
    assert fired["stateReasonData"]["triggeringAlarms"][0]["arn"] == backlog
    # the datapoint's period ends, silence is not breaching: the child goes back to OK and so does the composite
    assert wait_for(lambda: composite(local, "queue-stuck")["StateValue"] == "OK", timeout=20)
    assert state_changes(local, "queue-stuck")[-2:] == [
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
    ]


def test_composites_of_composites_and_a_cycle(local):
    cloudwatch = local.client("cloudwatch")
    put_child(local, "db-cpu")
    cloudwatch.put_composite_alarm(AlarmName="db-unhealthy", AlarmRule="ALARM(db-cpu)")
    cloudwatch.put_composite_alarm(AlarmName="platform-down", AlarmRule='ALARM("db-unhealthy") OR FALSE')
    set_state(local, "db-cpu", "ALARM")
    assert composite(local, "platform-down")["StateValue"] == "ALARM"  # through db-unhealthy
    unhealthy_arn = composite(local, "db-unhealthy")["AlarmArn"]
    assert triggering(composite(local, "platform-down")) == [(unhealthy_arn, "ALARM")]

    # a cycle, as CloudWatch allows one through an update, that would flip forever: each change moves each alarm once
    cloudwatch.put_composite_alarm(AlarmName="flip", AlarmRule="ALARM(db-cpu)")
    cloudwatch.put_composite_alarm(AlarmName="flop", AlarmRule="NOT ALARM(flip)")
    assert (composite(local, "flip")["StateValue"], composite(local, "flop")["StateValue"]) == ("ALARM", "OK")
    cloudwatch.put_composite_alarm(AlarmName="flip", AlarmRule="ALARM(flop)")  # flip -> OK, so flop -> ALARM
    assert (composite(local, "flip")["StateValue"], composite(local, "flop")["StateValue"]) == ("OK", "ALARM")
    assert state_changes(local, "flip")[-1] == "Alarm updated from ALARM to OK"
    assert state_changes(local, "flop")[-1] == "Alarm updated from OK to ALARM"


def test_bad_rules_are_refused_as_cloudwatch_words_them(local):
    cloudwatch = local.client("cloudwatch")
    put_child(local, "known")
    for rule, words in (
        ("ALARM(known) AND", "Error in AlarmRule [Unexpected end of rule at char 16]"),
        ("ALARM(known alarm)", "Error in AlarmRule [Unsupported token 'alarm' at char 12, must be: ')']"),
        ("()", "Error in AlarmRule [Unsupported token ')' at char 1]"),
        ("ALARMS(known)", "Error in AlarmRule [Unsupported token 'ALARMS' at char 0]"),
        ("ALARM(known) XOR OK(known)", "Error in AlarmRule [Unsupported token 'XOR' at char 13]"),
        (
            'ALARM(known) OR OK("nowhere") OR ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:gone)',
            "Could not save the composite alarm as alarms [nowhere, arn:aws:cloudwatch:us-east-1:123456789012:"
            "alarm:gone] in the alarm rule do not exist",
        ),
    ):
        with pytest.raises(cloudwatch.exceptions.ClientError) as refused:
            cloudwatch.put_composite_alarm(AlarmName="bad-rule", AlarmRule=rule)
        error = refused.value.response["Error"]
        assert (error["Code"], error["Message"]) == ("ValidationError", words), rule
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(cloudwatch.exceptions.ClientError, match="is a MetricAlarm"):
        cloudwatch.put_composite_alarm(AlarmName="known", AlarmRule="TRUE")
    assert cloudwatch.describe_alarms(AlarmNames=["bad-rule"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"] == []


def test_a_composite_keeps_its_state_and_follows_its_children_after_a_restart(local):
    cloudwatch = local.client("cloudwatch")
    put_child(local, "kept-child")
    cloudwatch.put_composite_alarm(AlarmName="kept-composite", AlarmRule="INSUFFICIENT_DATA(kept-child)")
    before = composite(local, "kept-composite")
    assert before["StateValue"] == "ALARM"
    local.restart()
    after = composite(local, "kept-composite")
    assert (after["StateValue"], after["StateReason"]) == ("ALARM", before["StateReason"])
    assert after["StateUpdatedTimestamp"] == before["StateUpdatedTimestamp"]
    set_state(local, "kept-child", "OK")
    assert composite(local, "kept-composite")["StateValue"] == "OK"
    assert state_changes(local, "kept-composite") == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
        "Alarm updated from ALARM to OK",
    ]


def stack_status(local, name: str) -> dict:
    cfn = local.client("cloudformation")
    settled = wait_for(
        lambda: (s := cfn.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"].endswith("COMPLETE") and s,
        timeout=30,
    )
    assert settled, cfn.describe_stacks(StackName=name)["Stacks"][0]
    return settled


def test_a_composite_alarm_made_by_cloudformation_is_judged_and_goes_with_its_stack(local):
    def template(rule: str) -> str:
        child = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "Team/Stack",
                "Statistic": "Sum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "ignore",
            },
        }
        return json.dumps(
            {
                "Resources": {
                    "Errors": {
                        **child,
                        "Properties": {**child["Properties"], "AlarmName": "cfn-errors", "MetricName": "e"},
                    },
                    "Latency": {
                        **child,
                        "Properties": {**child["Properties"], "AlarmName": "cfn-latency", "MetricName": "l"},
                    },
                    "Guard": {
                        "Type": "AWS::CloudWatch::CompositeAlarm",
                        "Properties": {"AlarmName": "cfn-guard", "AlarmRule": {"Fn::Sub": rule}},
                    },
                },
                "Outputs": {"GuardArn": {"Value": {"Fn::GetAtt": ["Guard", "Arn"]}}},
            }
        )

    cfn = local.client("cloudformation")
    cfn.create_stack(StackName="guard-stack", TemplateBody=template('ALARM("${Errors}") OR ALARM("${Latency}")'))
    stack = stack_status(local, "guard-stack")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"].endswith(":alarm:cfn-guard")
    assert composite(local, "cfn-guard")["StateValue"] == "OK"
    set_state(local, "cfn-latency", "ALARM")
    assert wait_for(lambda: composite(local, "cfn-guard")["StateValue"] == "ALARM", timeout=10)

    cfn.update_stack(StackName="guard-stack", TemplateBody=template('ALARM("${Errors}") AND ALARM("${Latency}")'))
    assert stack_status(local, "guard-stack")["StackStatus"] == "UPDATE_COMPLETE"
    assert composite(local, "cfn-guard")["AlarmRule"] == 'ALARM("cfn-errors") AND ALARM("cfn-latency")'

    cfn.create_stack(StackName="bad-guard", TemplateBody=template('ALARM("${Errors}") OR ALARM("nowhere")'))
    failed = wait_for(
        lambda: (
            (s := cfn.describe_stacks(StackName="bad-guard")["Stacks"][0])["StackStatus"].endswith("COMPLETE") and s
        ),
        timeout=30,
    )
    assert failed["StackStatus"] == "ROLLBACK_COMPLETE", failed["StackStatus"]
    events = cfn.describe_stack_events(StackName="bad-guard")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert any("alarms [nowhere] in the alarm rule do not exist" in r for r in reasons), reasons

    cfn.delete_stack(StackName="guard-stack")
    assert wait_for(
        lambda: (
            not local.client("cloudwatch").describe_alarms(
                AlarmNamePrefix="cfn-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )["CompositeAlarms"]
        ),
        timeout=30,
    ), "the stack's composite alarm is deleted with it"
