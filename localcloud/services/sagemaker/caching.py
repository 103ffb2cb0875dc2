"""Step caching as SageMaker Pipelines does it: reuse an earlier successful run of the same step.

A step with ``CacheConfig: {"Enabled": true, "ExpireAfter": "PT1H"}`` first looks for the most
recent successful run of the same-named step of the same pipeline, within ``ExpireAfter``, whose
cache key is equal. The key is the step's resolved arguments, restricted to the attributes SageMaker
documents for the step type ("Default cache key attributes by pipeline step type"): for a processing
step a changed output location or instance type still hits, a changed environment variable misses.
Caching exists for job steps only (Processing, Training, Tuning, Transform); other step types run
every time.

``ExpireAfter`` is a wall-clock window (it is not a wait, so the local time scale does not shrink it).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# Step type -> the request attributes whose change makes the step run again.
KEY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    # TrainingJobDefinition counts only through these children, as SageMaker documents
    "Tuning": (
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition.AlgorithmSpecification",
        "TrainingJobDefinition.HyperParameterRanges",
        "TrainingJobDefinition.InputDataConfig",
        "TrainingJobDefinition.StaticHyperParameters",
        "TrainingJobDefinition.TuningObjective",
        "TrainingJobDefinitions",
    ),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
}

_DURATION = re.compile(
    r"^P?(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.IGNORECASE,
)
_SECONDS = {
    "years": 365 * 86400,
    "months": 30 * 86400,
    "weeks": 7 * 86400,
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
    "seconds": 1,
}


class CacheConfigError(ValueError):
    """A CacheConfig the executor cannot use; the message names the step and the field."""


def expire_after_seconds(step_name: str, text: Any) -> float:
    """An ISO 8601 duration ("PT1H", "P30D", "30dT5h", "T16m") in seconds."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groupdict().values()):
        raise CacheConfigError(
            f"step {step_name!r}: CacheConfig.ExpireAfter {text!r} is not an ISO 8601 duration; "
            "write it like 'PT1H' (one hour), 'P30D' (30 days) or 'PT30M'"
        )
    return float(sum(int(value) * _SECONDS[unit] for unit, value in match.groupdict().items() if value))


def config(step: dict[str, Any]) -> float | None:
    """The step's cache window in seconds, or None when the step does not cache."""
    cache = step.get("CacheConfig")
    if cache is None:
        return None
    if not isinstance(cache, dict) or not isinstance(cache.get("Enabled", False), bool):
        raise CacheConfigError(
            f"step {step['Name']!r}: CacheConfig must be {{'Enabled': true|false, 'ExpireAfter': 'PT1H'}}"
        )
    if not cache.get("Enabled"):
        return None
    if "ExpireAfter" not in cache:
        raise CacheConfigError(
            f"step {step['Name']!r}: CacheConfig is enabled but has no ExpireAfter; SageMaker needs a timeout "
            "such as 'PT1H'"
        )
    window = expire_after_seconds(step["Name"], cache["ExpireAfter"])
    return window if step["Type"] in KEY_ATTRIBUTES else None


def cache_key(step_type: str, request: dict[str, Any]) -> str:
    """A digest of the attributes SageMaker compares, after parameters and properties are resolved."""
    keyed = {attribute: _attribute(request, attribute) for attribute in KEY_ATTRIBUTES[step_type]}
    text = json.dumps([step_type, keyed], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _attribute(request: dict[str, Any], path: str) -> Any:
    """``A`` or a child ``A.B`` of the request (None where absent)."""
    value: Any = request
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def find_hit(
    executions: list[dict[str, Any]], pipeline_arn: str, step_name: str, key: str, window: float, now: float
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The most recent run (execution record, step state) this step may reuse, if any.

    Only steps that ran their own job are sources: a cache hit carries its source's key, so reusing
    the source directly is the same and points at the execution that did the work."""
    best = None
    for record in executions:
        if record.get("PipelineArn") != pipeline_arn:
            continue
        state = (record.get("Steps") or {}).get(step_name)
        if not state or state.get("StepStatus") != "Succeeded" or state.get("CacheHitResult"):
            continue
        if state.get("CacheKey") != key or now - state.get("EndTime", 0) > window:
            continue
        if best is None or state["EndTime"] > best[1]["EndTime"]:
            best = (record, state)
    return best
