"""Reads the Parameters section of a CloudFormation template.

build.py checks the stage configuration files against the template itself, so
the template stays the single place where a parameter, its type, its range and
its default are defined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class TemplateError(ValueError):
    """The template cannot be read or has no usable Parameters section."""


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that understands the short intrinsic-function tags (!Ref, !Sub...)."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON CloudFormation template into plain Python data."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"{path}: template not found") from None
    try:
        document = yaml.load(text, Loader=_CloudFormationLoader)
    except yaml.YAMLError as error:
        raise TemplateError(f"{path}: not valid YAML/JSON: {error}") from None
    if not isinstance(document, dict):
        raise TemplateError(f"{path}: a CloudFormation template must be a mapping at the top level")
    return document


def load_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """Return the template's parameter declarations, keyed by parameter name."""
    parameters = load_template(path).get("Parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise TemplateError(f"{path}: the template declares no Parameters")
    for name, spec in parameters.items():
        if not isinstance(spec, dict) or "Type" not in spec:
            raise TemplateError(f"{path}: parameter {name} has no Type")
    return parameters


def required_parameters(parameters: dict[str, dict[str, Any]]) -> set[str]:
    """Names of the parameters that have no Default and so must be given a value."""
    return {name for name, spec in parameters.items() if "Default" not in spec}
