"""Which resources of a template a resource depends on: Ref, Fn::GetAtt, Fn::Sub and DependsOn.

CloudFormation orders creation, updates and deletion by these edges; moto orders by DependsOn
only, so deletion could remove a bucket before the custom resource that empties it.
"""

from __future__ import annotations

import re
from typing import Any

SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def references(node: Any) -> set[str]:
    """Logical ids (or parameter names) that ``node`` names; pseudo parameters excluded."""
    found: set[str] = set()
    _walk(node, found)
    return {name for name in found if not name.startswith("AWS::")}


def _walk(node: Any, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            target = value.split(".", 1)[0] if isinstance(value, str) else value[0]
            found.add(target)
        elif key == "Fn::Sub":
            template = value if isinstance(value, str) else value[0]
            local = set(value[1]) if isinstance(value, list) and len(value) > 1 else set()
            found.update(m.split(".", 1)[0] for m in SUB_VARIABLE.findall(template) if m.split(".", 1)[0] not in local)
            if isinstance(value, list) and len(value) > 1:
                _walk(value[1], found)
        elif key == "DependsOn":
            found.update([value] if isinstance(value, str) else value)
        else:
            _walk(value, found)


def dependencies(resources: dict[str, Any]) -> dict[str, set[str]]:
    """For each resource, the other resources of the same template it needs."""
    return {name: references(body) & set(resources) - {name} for name, body in resources.items()}


def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Resources with what they need first (template order among equals); cycles keep template order."""
    needs = dependencies(resources)
    ordered: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name in visiting:
            return
        visiting.add(name)
        for dependency in sorted(needs[name], key=list(resources).index):
            place(dependency)
        visiting.discard(name)
        placed.add(name)
        ordered.append(name)

    for name in resources:
        place(name)
    return ordered


def dependents(resources: dict[str, Any], changed: set[str]) -> set[str]:
    """Resources that (transitively) need one of ``changed``."""
    needs = dependencies(resources)
    result: set[str] = set()
    grew = True
    while grew:
        grew = False
        for name, needed in needs.items():
            if name not in result and name not in changed and needed & (changed | result):
                result.add(name)
                grew = True
    return result
