"""Stage transitions that can be disabled, as CodePipeline's DisableStageTransition does it.

A disabled transition holds executions at the stage boundary: an execution that reaches it waits
``InProgress`` (in SUPERSEDED mode a newer one arriving supersedes it) and goes on once the
transition is enabled again. An inbound transition is the way into a stage; an outbound one is the
way out of it, so the same boundary as the next stage's inbound. The states are kept in one JSON
record, so a restart keeps them.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from localcloud import ACCOUNT_ID
from localcloud.core.errors import AwsError

RECORD = "codepipeline/transitions.json"
TYPES = ("Inbound", "Outbound")
REASON = re.compile(r"[a-zA-Z0-9!@ \(\)\.\*\?\-]+")


class Transitions:
    def __init__(self, cloud, service):
        self.cloud = cloud
        self.service = service
        self._lock = threading.Lock()
        try:
            self._states: dict[str, dict[str, Any]] = cloud.state.read_json(RECORD)
        except FileNotFoundError:
            self._states = {}

    # API ----------------------------------------------------------------------------------
    def disable(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        key, stage, kind = self._checked(body, region)
        reason = body.get("reason")
        if not isinstance(reason, str) or not 1 <= len(reason) <= 300 or not REASON.fullmatch(reason):
            raise AwsError(
                "ValidationException",
                "1 validation error detected: Value at 'reason' failed to satisfy constraint: Member must be 1 to "
                "300 characters of letters, digits, spaces and !@().*?-",
            )
        self._set(key, stage, kind, {"enabled": False, "disabledReason": reason})
        return {}

    def enable(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        key, stage, kind = self._checked(body, region)
        self._set(key, stage, kind, {"enabled": True})
        return {}

    def inbound_state(self, region: str, pipeline_name: str, stage: str) -> dict[str, Any]:
        """What GetPipelineState shows as the stage's ``inboundTransitionState``."""
        state = self._states.get(self._key(region, pipeline_name), {}).get(stage, {}).get("Inbound")
        return dict(state) if state else {"enabled": True}

    def blocked(self, region: str, pipeline_name: str, stage_names: list[str], stage: str) -> str | None:
        """Why an execution may not enter ``stage`` now (None: it may)."""
        index = stage_names.index(stage)
        states = self._states.get(self._key(region, pipeline_name), {})
        inbound = states.get(stage, {}).get("Inbound")
        if inbound and not inbound["enabled"]:
            return f"the transition into {stage} is disabled: {inbound.get('disabledReason', '')}"
        if index > 0:
            previous = stage_names[index - 1]
            outbound = states.get(previous, {}).get("Outbound")
            if outbound and not outbound["enabled"]:
                return f"the transition out of {previous} is disabled: {outbound.get('disabledReason', '')}"
        return None

    # helpers --------------------------------------------------------------------------------
    @staticmethod
    def _key(region: str, pipeline_name: str) -> str:
        return f"{region}/{pipeline_name}"

    def _checked(self, body: dict[str, Any], region: str) -> tuple[str, str, str]:
        name, stage, kind = body.get("pipelineName", ""), body.get("stageName", ""), body.get("transitionType")
        if kind not in TYPES:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{kind}' at 'transitionType' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Inbound, Outbound]",
            )
        pipeline, _ = self.service.pipeline(name, region)
        stage_names = [s["name"] for s in pipeline["stages"]]
        if stage not in stage_names:
            raise AwsError("StageNotFoundException", f"Stage '{stage}' not found in pipeline '{name}'")
        if kind == "Inbound" and stage == stage_names[0]:
            raise AwsError("ValidationException", f"Stage '{stage}' is the first stage: it has no inbound transition")
        if kind == "Outbound" and stage == stage_names[-1]:
            raise AwsError("ValidationException", f"Stage '{stage}' is the last stage: it has no outbound transition")
        return self._key(region, name), stage, kind

    def _set(self, key: str, stage: str, kind: str, state: dict[str, Any]) -> None:
        state.update(lastChangedBy=f"arn:aws:iam::{ACCOUNT_ID}:root", lastChangedAt=time.time())
        with self._lock:
            self._states.setdefault(key, {}).setdefault(stage, {})[kind] = state
            self.cloud.state.write_json(RECORD, self._states)  # durable before the answer
        gate = self.service.gate(key.split("/", 1)[1])
        with gate.condition:
            gate.condition.notify_all()  # executions held at this boundary look again
