"""A small evaluator of the intrinsic functions the endpoint template uses for its choices.

It resolves parameters, Conditions, Fn::If and AWS::NoValue the way CloudFormation
does, so a test can see which resources and properties a given parameter file
produces (for example: no scaling resources when min equals max).
"""

from __future__ import annotations

from typing import Any

NO_VALUE = object()


def render(template: dict[str, Any], parameter_values: dict[str, str]) -> dict[str, Any]:
    """Return {"Resources": ..., "Conditions": ...} after applying parameter_values and defaults."""
    values = {
        name: str(parameter_values.get(name, spec.get("Default")))
        for name, spec in template["Parameters"].items()
        if name in parameter_values or "Default" in spec
    }
    missing = set(template["Parameters"]) - set(values)
    if missing:
        raise KeyError(f"no value for parameters {sorted(missing)}")
    conditions: dict[str, bool] = {}
    for name, expression in template.get("Conditions", {}).items():
        conditions[name] = bool(_resolve(expression, values, conditions))
    resources = {}
    for name, resource in template["Resources"].items():
        if "Condition" in resource and not conditions[resource["Condition"]]:
            continue
        properties = _resolve(resource.get("Properties", {}), values, conditions)
        resources[name] = {"Type": resource["Type"], "Properties": properties}
    return {"Resources": resources, "Conditions": conditions}


def _resolve(value: Any, values: dict[str, str], conditions: dict[str, bool]) -> Any:
    if isinstance(value, list):
        items = [_resolve(item, values, conditions) for item in value]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            return values.get(argument, {"Ref": argument})
        if key == "Condition":
            return conditions[argument]
        if key == "Fn::Equals":
            left, right = (_resolve(item, values, conditions) for item in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not _resolve(argument[0], values, conditions)
        if key == "Fn::If":
            condition, when_true, when_false = argument
            return _resolve(when_true if conditions[condition] else when_false, values, conditions)
        if key.startswith("Fn::"):
            return value  # Sub, GetAtt...: left for CloudFormation
    resolved = {key: _resolve(item, values, conditions) for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not NO_VALUE}
