"""Evaluate the expressions of a SageMaker Pipeline definition: Get, Join, JsonGet and conditions.

The definition language is the JSON the SageMaker SDK emits (v2 and v3 alike): ``{"Get":
"Parameters.X"}``, ``{"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}``, ``{"Std:Join": ...}``,
``{"Std:JsonGet": ...}``, and conditions such as ``GreaterThanOrEqualTo``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z0-9_]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*(\d+)\s*\]")


class ExpressionError(ValueError):
    """A reference that cannot be resolved; the message names the reference."""


def path_tokens(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match:
            raise ExpressionError(f"cannot parse property path {path!r} at {path[position:]!r}")
        name, single, double, index = match.groups()
        tokens.append(int(index) if index is not None else (name or single or double))
        position = match.end()
    return tokens


def walk(value: Any, tokens: list[str | int], reference: str) -> Any:
    """Follow tokens through dicts and lists; a string key on a list picks the item it names."""
    for token in tokens:
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and isinstance(token, int) and token < len(value):
            value = value[token]
        elif isinstance(value, list) and isinstance(token, str):
            named = [
                item
                for item in value
                if isinstance(item, dict) and any(k.endswith("Name") and v == token for k, v in item.items())
            ]
            if not named:
                raise ExpressionError(f"{reference}: no item named {token!r}")
            value = named[0]
        else:
            raise ExpressionError(f"{reference}: {token!r} not found")
    return value


def json_path(document: Any, path: str) -> Any:
    """The subset of JSONPath that property files use: ``a.b[0].c`` (optionally ``$.``-prefixed)."""
    path = path[2:] if path.startswith("$.") else path
    return walk(document, path_tokens(path), path)


def typed_parameter(declared: dict[str, Any], override: str | None) -> Any:
    kind = declared.get("Type", "String")
    value = override if override is not None else declared.get("DefaultValue")
    if value is None:
        raise ExpressionError(f"parameter {declared['Name']} has no default and no value was given")
    try:
        if kind == "Integer":
            return int(value)
        if kind == "Float":
            return float(value)
        if kind == "Boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
    except ValueError as error:
        raise ExpressionError(f"parameter {declared['Name']} must be a {kind}, got {value!r}") from error
    return str(value)


class Resolver:
    """Resolves expressions against parameters, execution variables and step properties."""

    def __init__(
        self,
        parameters: dict[str, Any],
        execution: dict[str, Any],
        step_properties: Callable[[str], dict[str, Any]],
        read_property_file: Callable[[str, str], Any],
    ):
        self.parameters = parameters
        self.execution = execution
        self.step_properties = step_properties
        self.read_property_file = read_property_file

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self.get(value["Get"])
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return str(join.get("On", "")).join(_as_text(self.resolve(v)) for v in join["Values"])
        if set(value) == {"Std:JsonGet"}:
            return self.json_get(value["Std:JsonGet"])
        return {key: self.resolve(item) for key, item in value.items()}

    def get(self, reference: str) -> Any:
        head, _, rest = reference.partition(".")
        if head == "Parameters":
            if rest not in self.parameters:
                raise ExpressionError(f"unknown pipeline parameter {rest!r}")
            return self.parameters[rest]
        if head == "Execution":
            if rest not in self.execution:
                raise ExpressionError(f"unknown execution variable {rest!r}")
            return self.execution[rest]
        if head == "Steps":
            step, _, path = rest.partition(".")
            return walk(self.step_properties(step), path_tokens(path), reference)
        raise ExpressionError(f"cannot resolve {reference!r}")

    def json_get(self, spec: dict[str, Any]) -> Any:
        path = spec["Path"]
        if "PropertyFile" in spec:
            reference = spec["PropertyFile"]["Get"]  # Steps.<step>.PropertyFiles.<name>
            parts = reference.split(".")
            document = self.read_property_file(parts[1], parts[3])
        else:
            document = self.read_property_file("", self.resolve(spec["S3Uri"]))
        return json_path(document, path)

    def condition(self, spec: dict[str, Any]) -> bool:
        kind = spec["Type"]
        if kind == "Not":
            return not self.condition(spec["Expression"])
        if kind == "Or":
            return any(self.condition(c) for c in spec["Conditions"])
        if kind == "And":
            return all(self.condition(c) for c in spec["Conditions"])
        if kind == "In":
            query = self.resolve(spec["QueryValue"])
            return any(_equal(query, self.resolve(v)) for v in spec["Values"])
        left, right = self.resolve(spec["LeftValue"]), self.resolve(spec["RightValue"])
        comparisons: dict[str, Callable[[Any, Any], bool]] = {
            "Equals": _equal,
            "GreaterThan": lambda a, b: _number(a) > _number(b),
            "GreaterThanOrEqualTo": lambda a, b: _number(a) >= _number(b),
            "LessThan": lambda a, b: _number(a) < _number(b),
            "LessThanOrEqualTo": lambda a, b: _number(a) <= _number(b),
        }
        if kind not in comparisons:
            raise ExpressionError(f"unsupported condition type {kind!r}")
        return comparisons[kind](left, right)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise ExpressionError(f"cannot compare {value!r} as a number") from error


def _equal(a: Any, b: Any) -> bool:
    try:
        return _number(a) == _number(b)
    except ExpressionError:
        return str(a) == str(b)


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)
