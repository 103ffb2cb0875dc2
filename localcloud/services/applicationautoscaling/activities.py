"""Scaling activities, as DescribeScalingActivities reports them (moto has no such operation).

Each activity is appended to one log in the state folder whenever its status changes; a restart
replays the log (the last line of an activity wins). An activity still InProgress when the local
cloud stopped comes back Unfulfilled, saying why: nothing confirmed the change.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LOG_FILE = "scaling-activities.jsonl"
STOPPED = "The local cloud stopped before the change was confirmed; the scalable target may not have it."


@dataclass
class Activity:
    ActivityId: str
    ServiceNamespace: str
    ResourceId: str
    ScalableDimension: str
    Description: str
    Cause: str
    StartTime: float
    StatusCode: str  # Pending | InProgress | Successful | Overridden | Unfulfilled | Failed
    StatusMessage: str = ""
    EndTime: float | None = None
    NotScaledReasons: list[dict[str, Any]] | None = None  # set on a not scaled activity
    account: str = ""
    region: str = ""
    policy: str = ""  # the policy ARN that started it (for cooldowns)
    direction: str = ""  # "out" or "in"

    def shown(self) -> dict[str, Any]:
        """As the JSON API answers it (times as epoch seconds, which boto3 reads as datetimes)."""
        hidden = ("account", "region", "policy", "direction")
        return {key: value for key, value in asdict(self).items() if key not in hidden and value is not None}


class ActivityLog:
    def __init__(self, folder: Path):
        self.path = folder / LOG_FILE
        self._lock = threading.Lock()
        self._activities: dict[str, Activity] = {}
        self._load()
        self._log = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the log's life

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def record(self, activity: Activity) -> None:
        with self._lock:
            self._activities[activity.ActivityId] = activity
            self._log.write(json.dumps(asdict(activity)) + "\n")
            self._log.flush()

    def of_target(
        self,
        account: str,
        region: str,
        namespace: str,
        resource_id: str | None,
        dimension: str | None,
        include_not_scaled: bool = False,
    ) -> list[Activity]:
        """Newest first; not scaled activities only when asked for (IncludeNotScaledActivities)."""
        with self._lock:
            chosen = [
                a
                for a in self._activities.values()
                if (include_not_scaled or not a.NotScaledReasons)
                and a.account == account
                and a.region == region
                and a.ServiceNamespace == namespace
                and (not resource_id or a.ResourceId == resource_id)
                and (not dimension or a.ScalableDimension == dimension)
            ]
        return sorted(chosen, key=lambda a: -a.StartTime)

    def _load(self) -> None:
        if not self.path.exists():
            return
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                activity = Activity(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut off by a crash
            self._activities[activity.ActivityId] = activity
        with open(self.path, "a", encoding="utf-8") as log:
            for activity in self._activities.values():
                if activity.StatusCode in ("Pending", "InProgress"):
                    activity.StatusCode, activity.StatusMessage = "Unfulfilled", STOPPED
                    log.write(json.dumps(asdict(activity)) + "\n")

    def close(self) -> None:
        with self._lock:
            self._log.close()
