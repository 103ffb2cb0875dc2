"""CloudFormation YAML read safely: the short intrinsic tags, and nothing that builds Python objects.

moto parses templates with ``yaml.Loader``, which runs ``!!python/object/apply:os.system`` tags: a
template from any caller would run code inside the local cloud. ``install()`` swaps the ``yaml``
that moto's CloudFormation modules see for this module, whose ``load`` ignores the loader it is
asked for and uses a ``SafeLoader`` that knows ``!Ref``, ``!Sub``, ``!GetAtt`` and the other short
forms. A tag it does not know is a template format error, as CloudFormation reports it.
"""

from __future__ import annotations

import types
from typing import Any

import yaml

SHORT_FORMS = (
    "And Base64 Cidr Condition Equals FindInMap GetAZs GetAtt If ImportValue Join Length Not Or Ref Select "
    "Split Sub ToJsonString Transform"
).split()


class TemplateLoader(yaml.SafeLoader):
    """A safe loader with CloudFormation's short intrinsic function tags."""


def _short_form(loader: TemplateLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix
    if name not in SHORT_FORMS:
        raise yaml.constructor.ConstructorError(
            None, None, f"unknown tag !{name}: CloudFormation knows only its intrinsic functions", node.start_mark
        )
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if name == "Ref" else f"Fn::{name}": value}


TemplateLoader.add_multi_constructor("!", _short_form)


def parse(text: str) -> Any:
    """A template's YAML (or JSON, which is YAML too); a bad tag is CloudFormation's ValidationError."""
    from moto.cloudformation.exceptions import ValidationError

    try:
        return yaml.load(text, Loader=TemplateLoader)  # noqa: S506 - TemplateLoader is a SafeLoader
    except yaml.constructor.ConstructorError as error:
        raise ValidationError(message=f"Template format error: {error.problem} ({error.problem_mark})") from None


def _load(stream: Any, Loader: Any = None) -> Any:  # noqa: N803 - yaml.load's signature
    return parse(stream)


def _moto_yaml() -> types.SimpleNamespace:
    """What moto's modules use of ``yaml``, with every load made safe."""
    return types.SimpleNamespace(
        load=_load,
        safe_load=parse,
        add_multi_constructor=lambda *args, **kwargs: None,  # moto's own unsafe tag hook is not needed
        SequenceNode=yaml.SequenceNode,
        ScalarNode=yaml.ScalarNode,
        MappingNode=yaml.MappingNode,
        Loader=TemplateLoader,
        SafeLoader=TemplateLoader,
        YAMLError=yaml.YAMLError,
        parser=yaml.parser,
        scanner=yaml.scanner,
    )


def install() -> None:
    """Point moto's CloudFormation modules at the safe loader (idempotent)."""
    from moto.cloudformation import models, responses, utils

    from localcloud.core import moto_seam

    shim = _moto_yaml()
    for module in (models, responses, utils):
        moto_seam.patch(
            module,
            "yaml",
            value=shim,
            why="templates are parsed with a safe loader: moto's yaml.Loader runs !!python tags",
            until="moto parsing templates with yaml.SafeLoader plus the short intrinsic tags",
        )
