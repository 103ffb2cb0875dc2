"""EventBridge additions: deliver matched events to targets moto cannot reach.

moto delivers to SQS, Logs, buses and archives, and raises NotImplementedError for any other
target, which fails the whole ``PutEvents`` call. Here a rule's targets are split: moto keeps the
ones it knows, and the rest go to deliverers that other modules register by service (CodePipeline
starts an execution, for example). A target with no deliverer is logged and skipped, as AWS would
record a failed invocation without failing ``PutEvents``. A schedule rule receives only its own
scheduled events (moto's empty pattern would otherwise match every event on the bus).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from moto.events.models import Rule
from moto.utilities.arns import parse_arn

from localcloud.core import moto_seam as seam

log = logging.getLogger("localcloud.services.events.delivery")
MOTO_DELIVERS = {"logs", "sqs", "events"}
Deliverer = Callable[[dict[str, Any], dict[str, Any]], None]
DELIVERERS: dict[str, Deliverer] = {}


def register_deliverer(service: str, deliver: Deliverer) -> None:
    """``deliver(target, event)`` is called for every matched event whose target is in ``service``."""
    DELIVERERS[service] = deliver


def _own_scheduled_event(rule: Rule, event: dict[str, Any]) -> bool:
    return event.get("detail-type") == "Scheduled Event" and rule.arn in event.get("resources", [])


def _split_delivery(original: Callable) -> Callable:
    def send_to_targets(self: Rule, event: dict[str, Any], transform_input: bool = True) -> None:
        if self.scheduled_expression and not _own_scheduled_event(self, event):
            return  # a schedule rule has no pattern, which moto would take as "match everything"
        ours = [t for t in self.targets if parse_arn(t["Arn"]).service not in MOTO_DELIVERS]
        if not ours:
            return original(self, event, transform_input)
        if self.event_pattern.matches_event(event):
            for target in ours:
                service = parse_arn(target["Arn"]).service
                deliver = DELIVERERS.get(service)
                if deliver is None:
                    log.warning(
                        "rule %s: no local delivery to %s targets; skipped %s", self.name, service, target["Arn"]
                    )
                    continue
                try:
                    deliver(target, event)
                except Exception:  # a failed invocation is the target's problem, not PutEvents'
                    log.exception("rule %s: delivery to %s failed", self.name, target["Arn"])
        all_targets = self.targets
        self.targets = [t for t in all_targets if t not in ours]
        try:
            if self.targets:
                original(self, event, transform_input)
        finally:
            self.targets = all_targets

    return send_to_targets


def install(cloud) -> None:  # noqa: ARG001 - patches moto's classes, which are per process
    seam.patch(
        Rule,
        "send_to_targets",
        wrap=_split_delivery,
        why="CodePipeline and CodeBuild targets are delivered by us (moto raises NotImplementedError for them)",
        until="moto delivering events to CodePipeline and CodeBuild targets",
    )
