"""Validates a stage configuration file (staging-config.json, prod-config.json).

A stage file holds the settings a person may change per stage (instance type and
count, data capture, traffic shifting, alarms, scaling) as natural JSON values:
integers for numbers, true/false for switches, strings for the rest. Every key
is checked against the CloudFormation template's own parameter declarations, so
a typo or a wrong type fails the build with the key and the file named, instead
of failing a CloudFormation deployment much later.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from template_parameters import required_parameters

# Parameters whose values build.py derives from the project and the model registry.
BUILD_PARAMETERS = frozenset(
    {
        "SageMakerProjectName",
        "SageMakerProjectId",
        "ModelPackageName",
        "ModelExecutionRoleArn",
        "StageName",
        "EndpointName",
        "DataCaptureUploadPath",
    }
)

# Tags build.py puts on every stack; a stage file may add others.
BUILD_TAGS = frozenset({"sagemaker:project-name", "sagemaker:project-id", "sagemaker:deployment-stage"})

TOP_LEVEL_KEYS = ("Parameters", "Tags")


class ConfigError(ValueError):
    """A stage configuration file is wrong; the message lists every problem found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {source}: {problem}" for problem in problems)
        super().__init__(f"{source} is not a valid stage configuration:\n{lines}")


@dataclass(frozen=True)
class StageConfig:
    """A validated stage file: CloudFormation-ready parameter strings and extra stack tags."""

    source: str
    parameters: dict[str, str]
    tags: dict[str, str]


def load_stage_config(path: Path | str, template_parameters: dict[str, dict[str, Any]]) -> StageConfig:
    """Read and validate one stage file against the template's parameter declarations."""
    source = str(path)
    document = _read_json(Path(path), source)
    problems: list[str] = []

    for key in document:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"unknown top-level key {key!r}; allowed keys: {', '.join(TOP_LEVEL_KEYS)}")

    raw_parameters = document.get("Parameters")
    if raw_parameters is None:
        problems.append('missing required key "Parameters" (an object of template parameter values)')
        raw_parameters = {}
    elif not isinstance(raw_parameters, dict):
        problems.append(f'"Parameters" must be an object, got {_json_type(raw_parameters)}')
        raw_parameters = {}

    parameters: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, value in raw_parameters.items():
        spec = template_parameters.get(key)
        if key in BUILD_PARAMETERS:
            problems.append(f"Parameters.{key} is set by build.py from the project and the model registry; remove it")
        elif spec is None:
            problems.append(f"Parameters.{key}: unknown parameter; {_suggestion(key, template_parameters)}")
        else:
            problem = _check_value(key, value, spec)
            if problem:
                problems.append(problem)
            else:
                values[key] = value
                parameters[key] = _to_cloudformation(value)

    for key in sorted(required_parameters(template_parameters) - BUILD_PARAMETERS - raw_parameters.keys()):
        spec = template_parameters[key]
        problems.append(
            f"missing required key Parameters.{key} (a {_expected_kind(spec)}: {spec.get('Description', '')})"
        )

    tags = _check_tags(document.get("Tags", {}), problems)

    if not problems:
        problems.extend(_consistency_problems(_effective_values(values, template_parameters)))
    if problems:
        raise ConfigError(source, problems)
    return StageConfig(source=source, parameters=parameters, tags=tags)


def _read_json(path: Path, source: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, ['file not found; create it with a "Parameters" object (see README.md)']) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            source, [f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"]
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(source, [f"the file must hold a JSON object, got {_json_type(document)}"])
    return document


def _expected_kind(spec: dict[str, Any]) -> str:
    if spec["Type"] == "Number":
        return "integer"
    if sorted(str(v) for v in spec.get("AllowedValues", [])) == ["false", "true"]:
        return "boolean"
    return "string"


def _check_value(key: str, value: Any, spec: dict[str, Any]) -> str | None:
    """Return a message naming the key when value does not fit the parameter, else None."""
    kind = _expected_kind(spec)
    name = f"Parameters.{key}"
    got = f"got {json.dumps(value)} ({_json_type(value)})"
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            example = spec.get("Default", spec.get("MinValue", 1))
            return f"{name} must be an integer, {got}; write a whole number without quotes, e.g. {example}"
        if "MinValue" in spec and value < float(spec["MinValue"]):
            return f"{name} must be at least {spec['MinValue']}, got {value}"
        if "MaxValue" in spec and value > float(spec["MaxValue"]):
            return f"{name} must be at most {spec['MaxValue']}, got {value}"
        allowed = [str(v) for v in spec.get("AllowedValues", [])]
        if allowed and str(value) not in allowed:
            return f"{name} must be one of {', '.join(allowed)}, got {value}"
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            return f"{name} must be true or false (a JSON boolean, without quotes), {got}"
        return None
    if not isinstance(value, str):
        return f"{name} must be a string, {got}; put the value in double quotes"
    allowed = [str(v) for v in spec.get("AllowedValues", [])]
    if allowed and value not in allowed:
        return f"{name} must be one of {', '.join(allowed)}, got {value!r}"
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"{name} must be at least {spec['MinLength']} characters long, got {value!r}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"{name} must be at most {spec['MaxLength']} characters long, got {value!r}"
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        hint = f" ({spec['Description']})" if spec.get("Description") else ""
        return f"{name} {value!r} does not match the pattern {pattern}{hint}"
    return None


def _to_cloudformation(value: Any) -> str:
    """CloudFormation template configuration files take every parameter value as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_tags(tags: Any, problems: list[str]) -> dict[str, str]:
    if not isinstance(tags, dict):
        problems.append(f'"Tags" must be an object of string keys to string values, got {_json_type(tags)}')
        return {}
    for key, value in tags.items():
        if key in BUILD_TAGS:
            problems.append(f"Tags.{key} is set by build.py; remove it")
        elif key.lower().startswith("aws:"):
            problems.append(f"Tags.{key}: keys starting with 'aws:' are reserved by AWS; rename it")
        elif not isinstance(value, str):
            problems.append(f"Tags.{key} must be a string, got {json.dumps(value)} ({_json_type(value)})")
    return {key: value for key, value in tags.items() if isinstance(value, str)}


def _effective_values(values: dict[str, Any], template_parameters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The stage's values with the template defaults filled in, typed for comparison."""
    effective: dict[str, Any] = {}
    for name, spec in template_parameters.items():
        if name in values:
            effective[name] = values[name]
        elif "Default" in spec and _expected_kind(spec) == "integer":
            effective[name] = int(spec["Default"])
        elif "Default" in spec:
            effective[name] = spec["Default"]
    return effective


def _consistency_problems(values: dict[str, Any]) -> list[str]:
    """Checks that span several parameters, which CloudFormation would only reject at deploy time."""
    problems = []
    low, high = values.get("AutoScalingMinCapacity"), values.get("AutoScalingMaxCapacity")
    count = values.get("EndpointInstanceCount")
    if low is not None and high is not None:
        if low > high:
            problems.append(
                f"Parameters.AutoScalingMinCapacity ({low}) is greater than Parameters.AutoScalingMaxCapacity "
                f"({high}); set min <= max, or min == max to turn autoscaling off"
            )
        elif low < high and count is not None and not low <= count <= high:
            problems.append(
                f"Parameters.EndpointInstanceCount ({count}) must lie between Parameters.AutoScalingMinCapacity "
                f"({low}) and Parameters.AutoScalingMaxCapacity ({high}) when autoscaling is on"
            )
    needed = _deployment_duration(values)
    limit = values.get("MaximumExecutionTimeoutSeconds")
    if needed is not None and limit is not None and limit < needed:
        problems.append(
            f"Parameters.MaximumExecutionTimeoutSeconds ({limit}) is shorter than the {needed} s that "
            f"{values['TrafficRoutingType']} traffic shifting waits in total (wait intervals plus "
            "TerminationWaitSeconds); raise it or shorten the waits"
        )
    return problems


def _deployment_duration(values: dict[str, Any]) -> int | None:
    """Seconds a blue/green deployment spends waiting: SageMaker bakes the wait interval after every
    traffic step, the last one too (all at once: one step; canary: the canary, then all traffic;
    linear: one step per share), then keeps the old fleet for the termination wait."""
    routing = values.get("TrafficRoutingType")
    wait = values.get("TrafficWaitIntervalSeconds")
    termination = values.get("TerminationWaitSeconds")
    if routing is None or wait is None or termination is None:
        return None
    if routing == "CANARY":
        steps = 2
    elif routing == "LINEAR":
        steps = math.ceil(100 / values.get("LinearStepSizePercent", 100))
    else:
        steps = 1
    return steps * wait + termination


def _suggestion(key: str, template_parameters: dict[str, dict[str, Any]]) -> str:
    settable = sorted(set(template_parameters) - BUILD_PARAMETERS)
    by_lower = {name.lower(): name for name in settable}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    if close:
        return f"did you mean {by_lower[close[0]]}? (names must match endpoint-config-template.yml)"
    return f"the template's settable parameters are: {', '.join(settable)}"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else "object"
