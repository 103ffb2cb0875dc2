"""The alarms of an ``AutoRollbackConfiguration``, read through the CloudWatch API while a deployment runs.

SageMaker reads their state with ``cloudwatch:DescribeAlarms``; so does the local cloud, at least
once per AWS second of the deployment (scaled by core.clock, never more often than every 20 ms).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from localcloud.core import clock

MIN_POLL_SECONDS = 0.02


def poll_seconds() -> float:
    """How often alarms are read: once per scaled AWS second, within [20 ms, 1 s]."""
    return min(1.0, max(MIN_POLL_SECONDS, clock.local_seconds(1.0)))


class AlarmWatch:
    """Which of the named alarms are in ALARM, asked at most once per poll interval."""

    def __init__(self, client: Callable[[], object], names: tuple[str, ...]):
        self._client = client
        self.names = names
        self._checked_at = float("-inf")
        self._firing: list[str] = []
        self._lock = threading.Lock()

    def missing(self) -> list[str]:
        """Named alarms that do not exist (a deployment cannot be guarded by them)."""
        if not self.names:
            return []
        found = {alarm["AlarmName"] for alarm in self._describe()}
        return [name for name in self.names if name not in found]

    def _describe(self) -> list[dict]:
        answer = self._client().describe_alarms(  # composites are listed only when asked for, as on AWS
            AlarmNames=list(self.names), AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        return [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]

    def firing(self) -> list[str]:
        """The alarms in ALARM now (re-read when the last answer is older than the poll interval)."""
        if not self.names:
            return []
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= poll_seconds():
                self._firing = [a["AlarmName"] for a in self._describe() if a.get("StateValue") == "ALARM"]
                self._checked_at = time.monotonic()
            return list(self._firing)
