"""The one seam to moto's internals: its version, every patch we apply to it, and the local cloud it serves.

Services do not assign to moto's classes or modules themselves; they call ``patch`` with what they
replace, why, and what moto would need for the patch to go away. The patches are applied once per
process (moto's backends are process-wide, so a second local cloud in the same process, as tests
make, reuses them) and ``applied()`` lists them: ``localcloud/README.md`` carries the table, and a
test checks that it names exactly the patches a running local cloud applies.

moto keeps its state in module-level backends, so one process serves one local cloud at a time:
``bind`` records it, and patched moto methods find the services they call back into through
``bound()`` rather than through module globals scattered over the services.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud import MOTO_VERSION


class MotoVersionError(RuntimeError):
    """The installed moto is not the one the local cloud was written against."""


def check_version(installed: str | None = None) -> None:
    """Stop with a clear message on any moto but the pinned one: the patches below assume its internals."""
    installed = installed or importlib.metadata.version("moto")
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the local cloud was written for moto {MOTO_VERSION} but moto {installed} is installed; "
            f"run 'make install' (pyproject.toml pins moto=={MOTO_VERSION}), or, to upgrade moto, follow "
            "the checklist in localcloud/README.md"
        )


@dataclass(frozen=True)
class Patch:
    target: str  # moto.<module>.<Class>.<attribute>
    why: str
    until: str  # what moto would need for this patch to go away


_APPLIED: dict[str, Patch] = {}


def _target(owner: Any, attribute: str) -> str:
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{attribute}"
    return f"{owner.__name__}.{attribute}"


def patch(
    owner: Any,
    attribute: str,
    *,
    why: str,
    until: str,
    wrap: Callable[[Any], Any] | None = None,
    value: Any = None,
) -> None:
    """Replace ``owner.attribute`` with ``wrap(original)`` or ``value``, once per process."""
    target = _target(owner, attribute)
    if target in _APPLIED:
        return
    if (wrap is None) == (value is None):
        raise TypeError("patch() takes exactly one of wrap= or value=")
    replacement = wrap(getattr(owner, attribute)) if wrap is not None else value
    setattr(owner, attribute, replacement)
    _APPLIED[target] = Patch(target, why, until)


def applied() -> list[Patch]:
    return sorted(_APPLIED.values(), key=lambda item: item.target)


_BOUND: list[Any] = []


def bind(cloud: Any) -> None:
    """The local cloud this process serves (the latest one started)."""
    _BOUND[:] = [cloud]


def unbind(cloud: Any) -> None:
    if _BOUND and _BOUND[0] is cloud:
        _BOUND.clear()


def bound() -> Any | None:
    return _BOUND[0] if _BOUND else None


def forget_cloudformation_types() -> None:
    """moto caches its CloudFormation type map on first use; models defined since must be found."""
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
