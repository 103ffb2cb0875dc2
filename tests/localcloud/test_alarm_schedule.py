"""Alarm evaluation that runs late still judges every period, as CloudWatch judges every one.

On a busy machine the evaluation thread can wake up after more than one period boundary has passed
(the clock runs 300 times faster in tests: a minute is 0.2 s). A period whose data was never judged
would leave an alarm that should have fired silent. Here the schedule is driven by hand, with the
thread stopped, so "late" is exact.
"""

from __future__ import annotations

import json
import time

import pytest

from localcloud.core import clock
from localcloud.services.cloudwatch import CloudWatchService
from localcloud.services.cloudwatch.metric_store import bucket_start
from tests.localcloud.conftest import reset_moto
from tests.localcloud.metrics_helpers import TimeScale, put_sum_alarm
from tests.localcloud.test_endpoints import Local


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with TimeScale(300):
        reset_moto()
        instance = Local(tmp_path_factory.mktemp("alarm-schedule-state"))
        yield instance
        instance.close()


def state_updates(local, name: str) -> list[dict]:
    items = local.client("cloudwatch").describe_alarm_history(
        AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    return [json.loads(item["HistoryData"])["newState"] for item in items]


def test_a_period_whose_evaluation_came_late_is_still_judged(local):
    alarms = local.cloud.service(CloudWatchService).alarms
    alarms.stop()  # the schedule is driven by hand below
    cloudwatch = local.client("cloudwatch")
    put_sum_alarm(cloudwatch, "late", "Team/Late", "failures", TreatMissingData="missing")
    length = clock.local_seconds(60)
    cloudwatch.put_metric_data(Namespace="Team/Late", MetricData=[{"MetricName": "failures", "Value": 5.0}])
    period = bucket_start(time.time(), length)  # the datapoint's period

    alarms.evaluate_due(period + 0.5 * length)  # on time: the datapoint's period is not over yet
    assert state_updates(local, "late") == []
    alarms.evaluate_due(period + 3.5 * length)  # the next look comes three boundaries later

    states = [update["stateValue"] for update in state_updates(local, "late")]
    assert states == ["ALARM", "INSUFFICIENT_DATA"], "the datapoint's period was judged, then the silence after"
    assert state_updates(local, "late")[0]["stateReason"].startswith(
        "Threshold Crossed: 1 out of the last 1 datapoints [5.0 ("
    )
