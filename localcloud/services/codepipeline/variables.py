"""``#{namespace.variable}`` references in action configurations, resolved as CodePipeline does."""

from __future__ import annotations

import re
from typing import Any

REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")


class UnresolvedVariable(Exception):
    """A reference names a namespace or variable that no earlier action produced."""


def resolve(value: Any, namespaces: dict[str, dict[str, str]]) -> Any:
    """Replace every reference in strings (recursively in lists and dicts)."""
    if isinstance(value, dict):
        return {k: resolve(v, namespaces) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, namespaces) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        namespace, name = match.group(1), match.group(2)
        if namespace not in namespaces:
            raise UnresolvedVariable(
                f"#{{{namespace}.{name}}}: no namespace {namespace!r} has been produced in this execution "
                f"(known: {sorted(namespaces)}); set 'namespace' on an earlier action or fix the reference"
            )
        if name not in namespaces[namespace]:
            raise UnresolvedVariable(
                f"#{{{namespace}.{name}}}: namespace {namespace!r} has no variable {name!r} "
                f"(it has: {sorted(namespaces[namespace])})"
            )
        return str(namespaces[namespace][name])

    return REFERENCE.sub(substitute, value)
