"""The SNS alarm action: CloudWatch's notification published to the topic through moto's SNS backend.

moto delivers what is published to the topic's subscriptions (an SQS queue gets the SNS envelope
with ``Message`` and ``Subject``). The message is CloudWatch's JSON: for a metric alarm AlarmName,
AlarmDescription, AWSAccountId, AlarmConfigurationUpdatedTimestamp, NewStateValue, NewStateReason,
StateChangeTime, Region (its long name), AlarmArn, OldStateValue, the three action lists and
``Trigger`` (the metric, statistic and threshold); for a composite alarm ``AlarmRule`` and
``TriggeringChildren`` instead of ``Trigger``. The subject is ``ALARM: "name" in US East (N.
Virginia)``. A topic that does not exist fails the action, and the alarm history says so.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from functools import lru_cache
from typing import Any

import botocore.session
from moto.sns.models import sns_backends
from moto.utilities.arns import parse_arn

from localcloud.services.cloudwatch.alarm_evaluation import aws_time
from localcloud.services.cloudwatch.alarms import Firing

MAX_SUBJECT = 100  # SNS refuses longer subjects


@lru_cache(maxsize=64)
def region_name(region: str) -> str:
    """``us-east-1`` -> ``US East (N. Virginia)``, as CloudWatch writes Region; the code when unknown."""
    for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
        described = partition.get("regions", {}).get(region)
        if described and described.get("description"):
            return described["description"]
    return region


def _upper_snake(statistic: str) -> str:
    """``SampleCount`` -> ``SAMPLE_COUNT``: the notification's Statistic."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", statistic).upper()


def _trigger(alarm) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
    }
    if alarm.extended_statistic:
        trigger.update({"StatisticType": "ExtendedStatistic", "ExtendedStatistic": alarm.extended_statistic})
    else:
        trigger.update({"StatisticType": "Statistic", "Statistic": _upper_snake(alarm.statistic or "")})
    trigger.update(
        {
            "Unit": alarm.unit,
            "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
        }
    )
    if alarm.datapoints_to_alarm:
        trigger["DatapointsToAlarm"] = int(alarm.datapoints_to_alarm)
    trigger.update(
        {
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        }
    )
    return trigger


def _triggering_children(reason_data: str | None) -> list[dict[str, Any]]:
    try:
        named = json.loads(reason_data or "{}").get("triggeringAlarms") or []
    except (ValueError, AttributeError):
        return []  # a SetAlarmState with data of its own
    return [
        {"Arn": child.get("arn"), "State": {"Value": child["state"]["value"], "Timestamp": child["state"]["timestamp"]}}
        for child in named
        if isinstance(child, dict) and isinstance(child.get("state"), dict)
    ]


def notification(firing: Firing) -> dict[str, Any]:
    """The message CloudWatch publishes to an SNS topic when an alarm changes state."""
    alarm = firing.record
    message: dict[str, Any] = {
        "AlarmName": firing.alarm_name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": firing.account,
    }
    if alarm.rule is None:
        message["AlarmConfigurationUpdatedTimestamp"] = aws_time(alarm.configuration_updated_timestamp.timestamp())
    message.update(
        {
            "NewStateValue": firing.state,
            "NewStateReason": firing.reason,
            "StateChangeTime": aws_time(firing.changed_at.timestamp()),
            "Region": region_name(firing.region),
            "AlarmArn": firing.alarm_arn,
            "OldStateValue": firing.previous_state,
            "OKActions": list(alarm.ok_actions or []),
            "AlarmActions": list(alarm.alarm_actions or []),
            "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        }
    )
    if alarm.rule is not None:
        message["AlarmRule"] = alarm.rule
        message["TriggeringChildren"] = _triggering_children(firing.reason_data)
    else:
        message["Trigger"] = _trigger(alarm)
    return message


def subject(firing: Firing) -> str:
    return f'{firing.state}: "{firing.alarm_name}" in {region_name(firing.region)}'[:MAX_SUBJECT]


class SnsAction:
    """Registered for ``arn:aws:sns:...`` alarm actions of one local cloud."""

    def __init__(self, cloud):
        self.cloud = cloud

    def __call__(self, topic_arn: str, firing: Firing) -> str:
        where = parse_arn(topic_arn)
        backend = sns_backends[where.account][where.region]
        extra: dict[str, Any] = {}
        with self.cloud.state.lock:
            topic = backend.topics.get(topic_arn)
            if topic is None:
                raise RuntimeError(f"Topic does not exist: {topic_arn} (SNS NotFound)")
            if topic.fifo_topic:  # CloudWatch groups by a hash of the alarm's ARN
                extra["group_id"] = hashlib.sha256(firing.alarm_arn.encode()).hexdigest()
                if not topic.content_based_deduplication:
                    extra["deduplication_id"] = uuid.uuid4().hex
            message_id = backend.publish(
                json.dumps(notification(firing)), arn=topic_arn, subject=subject(firing), **extra
            )
            self.cloud.state.save_backends()  # the queues it reached hold the message across a restart
        return f"published message {message_id}"
