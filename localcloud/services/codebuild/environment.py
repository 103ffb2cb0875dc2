"""A build's environment variables, in CodeBuild's order of precedence.

Lowest first: the buildspec's ``env`` section, then the project's variables, then StartBuild's
overrides. ``PARAMETER_STORE`` and ``SECRETS_MANAGER`` values are read from the local cloud's SSM
and Secrets Manager, as the build's role would read them on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from localcloud.services.codebuild.buildspec import Buildspec


class EnvironmentError_(Exception):
    """A variable cannot be resolved; the message names it and where its value was looked for."""


def _parameter(client: Callable[[str], Any], name: str, reference: str) -> str:
    ssm = client("ssm")
    try:
        return ssm.get_parameter(Name=reference, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound as missing:
        raise EnvironmentError_(f"environment variable {name}: SSM parameter {reference!r} does not exist") from missing


def _secret(client: Callable[[str], Any], name: str, reference: str) -> str:
    if reference.startswith("arn:"):
        parts = reference.split(":")
        secret_id, json_key = ":".join(parts[:7]), (parts[7] if len(parts) > 7 else "")
    else:
        secret_id, _, rest = reference.partition(":")
        json_key = rest.split(":")[0]
    secrets = client("secretsmanager")
    try:
        value = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    except secrets.exceptions.ResourceNotFoundException as missing:
        raise EnvironmentError_(f"environment variable {name}: secret {secret_id!r} does not exist") from missing
    if json_key:
        try:
            return str(json.loads(value)[json_key])
        except (ValueError, KeyError, TypeError) as error:
            raise EnvironmentError_(
                f"environment variable {name}: secret {secret_id!r} has no JSON key {json_key!r}"
            ) from error
    return value


def _typed(client: Callable[[str], Any], variable: dict[str, Any]) -> str:
    kind = variable.get("type", "PLAINTEXT")
    value = str(variable.get("value", ""))
    if kind == "PLAINTEXT":
        return value
    if kind == "PARAMETER_STORE":
        return _parameter(client, variable["name"], value)
    if kind == "SECRETS_MANAGER":
        return _secret(client, variable["name"], value)
    raise EnvironmentError_(
        f"environment variable {variable['name']} has type {kind}; use PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER"
    )


def resolve(
    spec: Buildspec,
    project_variables: list[dict[str, Any]],
    overrides: list[dict[str, Any]],
    client: Callable[[str], Any],
) -> dict[str, str]:
    values = dict(spec.variables)
    for name, reference in spec.parameter_store.items():
        values[name] = _parameter(client, name, reference)
    for name, reference in spec.secrets_manager.items():
        values[name] = _secret(client, name, reference)
    for variable in [*project_variables, *overrides]:
        if not variable.get("name"):
            raise EnvironmentError_(f"an environment variable has no name: {variable}")
        values[variable["name"]] = _typed(client, variable)
    return values
