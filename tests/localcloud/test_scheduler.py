"""Schedule rules fire: rate() and cron() as EventBridge reads them, delivered like any event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.services.events.scheduler import ScheduleError, next_fire

NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", NOON + timedelta(minutes=5)),
        ("rate(1 day)", NOON + timedelta(days=1)),
        ("cron(30 14 * * ? *)", NOON.replace(hour=14, minute=30)),
        ("cron(0 8 ? * 2-6 *)", datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),  # weekdays: next is Monday
        ("cron(0 0 ? * 1 *)", datetime(2026, 11, 22, 0, 0, tzinfo=UTC)),  # 1 is Sunday in EventBridge
    ],
)
def test_next_fire_follows_eventbridge_syntax(expression, expected):
    assert next_fire(expression, NOON) == expected


@pytest.mark.parametrize("expression", ["rate(0 minutes)", "every day", "cron(0 8 * *)", "cron(0 8 * * ? 2030)"])
def test_bad_expressions_say_what_is_wrong(expression):
    with pytest.raises(ScheduleError):
        next_fire(expression, NOON)


def test_due_schedule_delivers_a_scheduled_event_and_disabled_ones_do_not(cloud):
    sqs, events = cloud.client("sqs"), cloud.client("events")
    queue = sqs.create_queue(QueueName="retrain")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")["RuleArn"]
    events.put_targets(Rule="hourly", Targets=[{"Id": "queue", "Arn": arn}])
    events.put_rule(Name="paused", ScheduleExpression="rate(1 minute)", State="DISABLED")
    events.put_targets(Rule="paused", Targets=[{"Id": "queue", "Arn": arn}])

    now = datetime.now(UTC)
    assert cloud.scheduler.tick(now) == [], "a new schedule first fires one period later"
    assert cloud.scheduler.tick(now + timedelta(minutes=30)) == []
    assert cloud.scheduler.tick(now + timedelta(hours=1, seconds=1)) == [rule_arn]
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [rule_arn]
    assert event["time"].endswith("Z"), event["time"]


def test_a_schedule_rule_does_not_match_other_events(cloud):
    sqs, events = cloud.client("sqs"), cloud.client("events")
    queue = sqs.create_queue(QueueName="nightly")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "queue", "Arn": arn}])
    events.put_events(Entries=[{"Source": "app.orders", "DetailType": "Order Placed", "Detail": "{}"}])
    assert sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []) == []
