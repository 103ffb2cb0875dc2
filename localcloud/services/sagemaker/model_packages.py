"""DeleteModelPackage and DeleteModelPackageGroup, which moto 5.2.5 lacks.

A project's stack owns its model package group; deleting the stack deletes the group, and the
project's cleanup function deletes the group's packages first, as SageMaker refuses to delete a
group that still holds versions.
"""

from __future__ import annotations

from typing import Any

from moto.sagemaker.exceptions import ValidationError as SageMakerValidationError
from moto.sagemaker.models import sagemaker_backends

from localcloud.core.errors import AwsError


def delete_model_package(backend, name_or_arn: str) -> None:
    key = backend.model_package_name_mapping.get(name_or_arn, name_or_arn)
    package = backend.model_packages.get(key)
    if package is None:
        raise SageMakerValidationError(f"Model package {name_or_arn} does not exist.")
    del backend.model_packages[key]
    for alias in [alias for alias, target in backend.model_package_name_mapping.items() if target == key]:
        del backend.model_package_name_mapping[alias]


def delete_model_package_group(backend, name: str) -> None:
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    if name not in backend.model_package_groups:
        raise SageMakerValidationError(f"Model package group {name} does not exist.")
    remaining = [p for p in backend.model_packages.values() if p.model_package_group_name == name]
    if remaining:
        raise SageMakerValidationError(
            f"Model package group {name} still holds {len(remaining)} model package(s) "
            f"(e.g. {remaining[0].arn}); delete them (DeleteModelPackage) before deleting the group."
        )
    del backend.model_package_groups[name]


def _api(cloud, operation, field: str):
    def handle(call) -> dict[str, Any]:
        value = call.body.get(field)
        if not value:
            raise AwsError("ValidationException", f"{field} is required")
        backend = sagemaker_backends[call.account][call.region]
        with cloud.state.lock:
            try:
                operation(backend, value)
            except SageMakerValidationError as error:
                raise AwsError("ValidationException", error.message) from None
        return {}  # the gateway makes it durable before this answer

    return handle


def install(cloud) -> None:
    cloud.gateway.json("SageMaker", "DeleteModelPackage")(_api(cloud, delete_model_package, "ModelPackageName"))
    cloud.gateway.json("SageMaker", "DeleteModelPackageGroup")(
        _api(cloud, delete_model_package_group, "ModelPackageGroupName")
    )
