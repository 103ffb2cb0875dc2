"""cdk-nag acknowledgements that travel with the code that needs them.

A wildcard resource in a policy must say why at the place it is written
(`allow(..., why=...)`); this module turns that reason into the exact cdk-nag
acknowledgement for the finding it would raise.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct


def flatten_reference(node: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names it in findings."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    if not reason or len(reason) < 20:
        raise ValueError(f"acknowledging {rule_id} needs a real reason, got {reason!r}")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def acknowledge_wildcard_resource(construct: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard resource of `construct`'s policy."""
    resolved = cdk.Stack.of(construct).resolve(resource)
    acknowledge(construct, f"AwsSolutions-IAM5[Resource::{flatten_reference(resolved)}]", reason)
