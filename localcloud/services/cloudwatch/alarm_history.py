"""DescribeAlarmHistory's items: kept in memory per account and region, appended to one log.

moto has no alarm history API (its alarms keep a list of tuples that nothing reads). Items follow
CloudWatch's shape: ``ConfigurationUpdate`` when an alarm is created, updated or deleted,
``StateUpdate`` for every state change, ``Action`` for every action run on a transition, each with
its ``AlarmType`` (``MetricAlarm`` or ``CompositeAlarm``). A restart
replays the log, keeping the newest ``MAX_ITEMS`` per account and region.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from localcloud.core.state import atomic_write

LOG_FILE = "alarm-history.jsonl"
MAX_ITEMS = 10_000


class AlarmHistory:
    def __init__(self, folder: Path):
        self.path = folder / LOG_FILE
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._load()
        self._log = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the history's life

    def add(
        self,
        account: str,
        region: str,
        alarm_name: str,
        kind: str,
        summary: str,
        data: dict[str, Any],
        when: datetime,
        alarm_type: str = "MetricAlarm",
    ) -> None:
        item = {
            "AlarmName": alarm_name,
            "AlarmType": alarm_type,
            "Timestamp": when.timestamp(),
            "HistoryItemType": kind,
            "HistorySummary": summary,
            "HistoryData": json.dumps(data),
        }
        with self._lock:
            self._keep(account, region, item)
            self._log.write(json.dumps({"a": account, "r": region, **item}) + "\n")
            self._log.flush()

    def _keep(self, account: str, region: str, item: dict[str, Any]) -> None:
        items = self._items.setdefault((account, region), [])
        items.append(item)
        if len(items) > 2 * MAX_ITEMS:
            del items[: len(items) - MAX_ITEMS]

    def items(self, account: str, region: str) -> list[dict[str, Any]]:
        """Oldest first, Timestamp as epoch seconds."""
        with self._lock:
            return list(self._items.get((account, region), []))

    def _load(self) -> None:
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                account, region = record.pop("a"), record.pop("r")
            except (ValueError, KeyError, AttributeError):
                continue  # a line cut off by a crash
            self._keep(account, region, record)
        lines = [
            json.dumps({"a": account, "r": region, **item})
            for (account, region), items in self._items.items()
            for item in items[-MAX_ITEMS:]
        ]
        atomic_write(self.path, ("\n".join(lines) + "\n" if lines else "").encode())

    def close(self) -> None:
        with self._lock:
            self._log.close()
