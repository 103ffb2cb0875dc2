"""Read synthesized templates the way CloudFormation would for given parameter values.

`render()` evaluates conditions, drops resources whose condition is false,
resolves `Fn::If` and substitutes parameters and pseudo parameters, so tests
can assert on what a provisioned project really gets.
"""

from __future__ import annotations

import re
from typing import Any

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "SC-123456789012-pp-abcdefghijklm",
}
NO_VALUE = object()
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def parameter_values(template: dict, given: dict[str, str]) -> dict[str, str]:
    values = {name: spec["Default"] for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
    values.update(given)
    missing = [name for name in template.get("Parameters", {}) if name not in values]
    if missing:
        raise KeyError(f"no value for parameters {missing}")
    return values


def evaluate_condition(expression: Any, template: dict, values: dict[str, str]) -> bool:
    if isinstance(expression, dict):
        ((function, argument),) = expression.items()
        if function == "Fn::Equals":
            left, right = (resolve_value(item, template, values) for item in argument)
            return left == right
        if function == "Fn::Not":
            return not evaluate_condition(argument[0], template, values)
        if function == "Fn::And":
            return all(evaluate_condition(item, template, values) for item in argument)
        if function == "Fn::Or":
            return any(evaluate_condition(item, template, values) for item in argument)
        if function == "Condition":
            return evaluate_condition(template["Conditions"][argument], template, values)
    raise ValueError(f"not a condition: {expression!r}")


def resolve_value(node: Any, template: dict, values: dict[str, str]) -> Any:
    """Resolve what parameters decide; leave references to resources in place."""
    if isinstance(node, list):
        resolved = [resolve_value(item, template, values) for item in node]
        return [item for item in resolved if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            if argument in values:
                return values[argument]
            if argument in PSEUDO:
                return PSEUDO[argument]
        if key == "Fn::If":
            name, when_true, when_false = argument
            chosen = when_true if evaluate_condition({"Condition": name}, template, values) else when_false
            return resolve_value(chosen, template, values)
        if key == "Fn::Sub" and isinstance(argument, str):
            names = SUB_VARIABLE.findall(argument)
            if all(name in values or name in PSEUDO for name in names):
                return SUB_VARIABLE.sub(lambda m: values.get(m.group(1), PSEUDO.get(m.group(1))), argument)
            return node
    resolved = {key: resolve_value(value, template, values) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value is not NO_VALUE}


def render(template: dict, given: dict[str, str]) -> dict:
    """The template as provisioned with `given` parameters (conditions applied)."""
    values = parameter_values(template, given)
    conditions = {
        name: evaluate_condition(expression, template, values)
        for name, expression in template.get("Conditions", {}).items()
    }
    resources = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if conditions.get(resource.get("Condition"), True)
    }
    kept = {**template, "Resources": resources}
    return {
        "Resources": {
            logical_id: resolve_value({k: v for k, v in resource.items() if k != "Condition"}, kept, values)
            for logical_id, resource in resources.items()
        },
        "Outputs": template.get("Outputs", {}),
    }


def references(node: Any) -> set[str]:
    """Logical ids named by Ref, Fn::GetAtt, DependsOn or ${...} in Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "DependsOn":
                found |= set([value] if isinstance(value, str) else value)
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {name.split(".")[0] for name in SUB_VARIABLE.findall(text)}
                if not isinstance(value, str):
                    found |= references(value[1])
            else:
                found |= references(value)
    return found


def of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def one_of_type(template: dict, resource_type: str, **property_equals: Any) -> tuple[str, dict]:
    matches = [
        (lid, r)
        for lid, r in of_type(template, resource_type).items()
        if all(r.get("Properties", {}).get(k) == v for k, v in property_equals.items())
    ]
    if len(matches) != 1:
        raise AssertionError(f"expected one {resource_type} with {property_equals}, found {len(matches)}")
    return matches[0]
