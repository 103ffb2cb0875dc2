"""What every resource model here shares: how moto's CloudFormation sees a resource.

moto finds resource types among the *direct* subclasses of ``CloudFormationModel``, so each model
lists it as a base itself, after ``StackResource``. Instances live inside the pickled CloudFormation
backend, so they hold plain data only (names, ARNs, properties), never clients or locks.
"""

from __future__ import annotations

from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException


class ResourceFailed(Exception):
    """A resource could not be created, updated or deleted; the message is the status reason."""


class StackResource:
    """Mixin: physical id, GetAtt from ``attributes``, instance ``delete`` and the name property."""

    TYPE: ClassVar[str] = ""
    NAME_PROPERTY: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    physical_id: str = ""
    attributes: dict[str, Any]

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.ATTRIBUTES or attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    def delete(self, account_id: str, region_name: str) -> None:  # noqa: ARG002 - moto's signature
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        """Only reached if ``delete`` itself raised a TypeError/AttributeError: a bug, say so."""
        raise ResourceFailed(f"{cls.TYPE} {resource_name}: internal error while deleting")


def message_of(error: Exception) -> str:
    """moto's errors carry ``message`` (or ``description``); others just their text."""
    return getattr(error, "message", None) or getattr(error, "description", None) or str(error)
