"""CloudFormation spells properties in PascalCase; the service APIs mostly in camelCase.

The resource models here translate a template's properties into the API's request shape, so that
what a stack creates looks exactly like what the API would have created.
"""

from __future__ import annotations

import json
from typing import Any


def camel_key(key: str) -> str:
    return key[:1].lower() + key[1:]


def to_api_shape(
    value: Any, keep_keys_under: frozenset[str] = frozenset(), renames: dict[str, str] | None = None
) -> Any:
    """Recursively lower the first letter of every key.

    Keys listed in ``keep_keys_under`` (API names, e.g. ``configuration``) hold free-form maps whose
    own keys are data, not field names: their content is kept as written. ``renames`` maps a
    CloudFormation key to an API key that is not simply its camelCase (``BuildSpec`` -> ``buildspec``).
    """
    renames = renames or {}
    if isinstance(value, list):
        return [to_api_shape(item, keep_keys_under, renames) for item in value if item is not None]
    if not isinstance(value, dict):
        return value
    shaped = {}
    for key, item in value.items():
        if item is None:
            continue
        api_key = renames.get(key, camel_key(key))
        shaped[api_key] = item if api_key in keep_keys_under else to_api_shape(item, keep_keys_under, renames)
    return shaped


def as_api_string(value: Any) -> str:
    """Free-form string maps (action configuration) hold strings: ``true``, not ``True``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def as_int(value: Any, name: str) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise ValueError(f"property {name} must be a number, got {value!r}") from None


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def require(properties: dict[str, Any], name: str, resource_type: str) -> Any:
    """A required property, or an error naming it and the type that needs it."""
    if properties.get(name) in (None, "", []):
        raise ValueError(f"{resource_type}: property {name} is required")
    return properties[name]


def tags_as_list(tags: Any) -> list[dict[str, str]]:
    """CloudFormation writes tags as ``[{Key, Value}]``; some types accept a map."""
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in tags or []]
