"""SageMaker resource types: ModelPackageGroup (new), and Model, EndpointConfig, Endpoint fixed.

moto's own models ignore explicit names, require ``PrimaryContainer`` and replace an endpoint on
every change. Here the three are taught what CloudFormation does: explicit ``ModelName``,
``EndpointConfigName`` and ``EndpointName`` are kept; ``Containers`` works; a model or
configuration change creates the new one and deletes the old one only once the stack update has
succeeded; an endpoint whose configuration changes is updated in place (``UpdateEndpoint``, the
blue/green deployment), never replaced, and keeps its ``DeploymentConfig`` (DescribeEndpoint's
``LastDeploymentConfig``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sagemaker.exceptions import ValidationError as SageMakerValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, Model, sagemaker_backends

from localcloud.core import moto_seam as seam
from localcloud.core import names
from localcloud.services.cloudformation import stacks
from localcloud.services.cloudformation.base import ResourceFailed, StackResource, message_of
from localcloud.services.cloudformation.properties import as_bool, as_int, require

DEPLOYMENT_TIMEOUT_SECONDS = 600


def _backend(account_id: str, region_name: str):
    return sagemaker_backends[account_id][region_name]


def await_deployment(endpoint: FakeEndpoint, config_name: str) -> FakeEndpoint:
    """Block until the endpoint is InService on ``config_name``, as CloudFormation does.

    The stack operation holds the state lock, and the endpoint's deployment needs it to report
    its outcome, so the wait releases the lock (a Condition over it) while it sleeps.
    """
    cloud = seam.bound()
    waiter = threading.Condition(cloud.state.lock) if cloud is not None else None
    deadline = time.monotonic() + DEPLOYMENT_TIMEOUT_SECONDS
    while endpoint.endpoint_status in ("Creating", "Updating", "SystemUpdating", "RollingBack"):
        if time.monotonic() > deadline:
            raise ResourceFailed(
                f"Endpoint {endpoint.endpoint_name} still {endpoint.endpoint_status} after "
                f"{DEPLOYMENT_TIMEOUT_SECONDS} s"
            )
        if waiter is None:
            time.sleep(0.1)
            continue
        with waiter:
            waiter.wait(0.1)
    if endpoint.endpoint_status != "InService":
        raise ResourceFailed(
            f"Endpoint {endpoint.endpoint_name} is {endpoint.endpoint_status}: "
            f"{getattr(endpoint, 'failure_reason', None) or 'no reason given'}"
        )
    if endpoint.endpoint_config_name != config_name:
        raise ResourceFailed(
            f"Endpoint {endpoint.endpoint_name} could not move to {config_name} and kept "
            f"{endpoint.endpoint_config_name}: "
            f"{getattr(endpoint, 'failure_reason', None) or 'the deployment was rolled back'}"
        )
    return endpoint


# AWS::SageMaker::ModelPackageGroup ----------------------------------------------------------------
class CfnModelPackageGroup(StackResource, CloudFormationModel):
    TYPE = "AWS::SageMaker::ModelPackageGroup"
    NAME_PROPERTY = "ModelPackageGroupName"
    ATTRIBUTES = ("ModelPackageGroupArn", "ModelPackageGroupName", "ModelPackageGroupStatus", "CreationTime")

    def __init__(self, name: str, arn: str, creation_time: Any):
        self.physical_id = name
        self.attributes = {
            "ModelPackageGroupArn": arn,
            "ModelPackageGroupName": name,
            "ModelPackageGroupStatus": "Completed",
            "CreationTime": str(creation_time),
        }

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = _backend(account_id, region_name)
        if resource_name in backend.model_package_groups:
            raise ResourceFailed(f"Model package group {resource_name} already exists")
        backend.create_model_package_group(
            resource_name, properties.get("ModelPackageGroupDescription"), properties.get("Tags")
        )
        group = backend.model_package_groups[resource_name]
        return cls(resource_name, group.arn, group.creation_time)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        name = original_resource.physical_id
        if properties.get("ModelPackageGroupName", name) != name:
            raise ResourceFailed(
                f"ModelPackageGroupName cannot change ({name} -> {new_resource_name}): "
                "it names the registry of existing models; create a new group instead"
            )
        group = _backend(account_id, region_name).model_package_groups[name]
        group.model_package_group_description = properties.get("ModelPackageGroupDescription")
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        from localcloud.services.sagemaker.model_packages import delete_model_package_group

        try:
            delete_model_package_group(_backend(account_id, region_name), self.physical_id)
        except SageMakerValidationError as error:
            raise ResourceFailed(message_of(error)) from None


# AWS::SageMaker::Model ------------------------------------------------------------------------------
def _check_containers(backend, containers: list[dict[str, Any]]) -> None:
    for index, container in enumerate(containers):
        package = container.get("ModelPackageName")
        if not package and not container.get("Image"):
            raise ResourceFailed(f"Containers[{index}] needs Image or ModelPackageName")
        if package:
            try:
                backend.describe_model_package(package)
            except SageMakerValidationError:
                raise ResourceFailed(
                    f"Containers[{index}].ModelPackageName: model package {package} "
                    "does not exist; register it (or pass the ARN of an existing one)"
                ) from None


def _model_name(resource_name: str, properties: dict[str, Any]) -> str:
    return properties.get("ModelName") or names.MODEL.generated(resource_name)


def create_model(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json["Properties"]
    backend = _backend(account_id, region_name)
    containers = properties.get("Containers") or []
    primary = properties.get("PrimaryContainer") or (containers[0] if containers else None)
    if not primary:
        raise ResourceFailed("AWS::SageMaker::Model needs PrimaryContainer or Containers")
    _check_containers(backend, [primary, *containers])
    name = _model_name(resource_name, properties)
    if name in backend._models:
        raise ResourceFailed(f"Model {name} already exists")
    return backend.create_model(
        model_name=name,
        execution_role_arn=require(properties, "ExecutionRoleArn", "AWS::SageMaker::Model"),
        primary_container=primary,
        vpc_config=properties.get("VpcConfig", {}),
        containers=containers,
        tags=properties.get("Tags", []),
    )


def replace_after_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    """Immutable types: make the new one now, delete the old one when the whole update succeeded."""
    new_resource = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
    old_arn = original_resource.physical_resource_id
    stacks.after_update_succeeds(
        lambda: cls.delete_from_cloudformation_json(old_arn, cloudformation_json, account_id, region_name)
    )
    return new_resource


# AWS::SageMaker::EndpointConfig ---------------------------------------------------------------------
def _variants(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shaped = []
    for variant in variants:
        variant = dict(variant)
        if "InitialInstanceCount" in variant:
            variant["InitialInstanceCount"] = as_int(variant["InitialInstanceCount"], "InitialInstanceCount")
        if "InitialVariantWeight" in variant:
            variant["InitialVariantWeight"] = float(variant["InitialVariantWeight"])
        shaped.append(variant)
    return shaped


def _data_capture(config: dict[str, Any] | None) -> dict[str, Any]:
    if not config:
        return {}
    config = dict(config)
    if "EnableCapture" in config:
        config["EnableCapture"] = as_bool(config["EnableCapture"])
    if "InitialSamplingPercentage" in config:
        config["InitialSamplingPercentage"] = as_int(
            config["InitialSamplingPercentage"], "DataCaptureConfig.InitialSamplingPercentage"
        )
    return config


def create_endpoint_config(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json["Properties"]
    backend = _backend(account_id, region_name)
    name = properties.get("EndpointConfigName") or names.ENDPOINT_CONFIG.generated(resource_name)
    if name in backend.endpoint_configs:
        raise ResourceFailed(f"Endpoint configuration {name} already exists")
    for variant in properties.get("ProductionVariants") or []:
        model = variant.get("ModelName")
        if model and model not in backend._models:
            raise ResourceFailed(f"ProductionVariants: model {model} does not exist")
    try:
        return backend.create_endpoint_config(
            endpoint_config_name=name,
            production_variants=_variants(require(properties, "ProductionVariants", cls.cloudformation_type())),
            data_capture_config=_data_capture(properties.get("DataCaptureConfig")),
            async_inference_config=properties.get("AsyncInferenceConfig", {}),
            kms_key_id=properties.get("KmsKeyId"),
            tags=properties.get("Tags", []),
        )
    except SageMakerValidationError as error:
        raise ResourceFailed(message_of(error)) from None


# AWS::SageMaker::Endpoint ----------------------------------------------------------------------------
def create_endpoint(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json["Properties"]
    backend = _backend(account_id, region_name)
    name = properties.get("EndpointName") or names.ENDPOINT.generated(resource_name)
    if name in backend.endpoints:
        raise ResourceFailed(f"Endpoint {name} already exists")
    config_name = require(properties, "EndpointConfigName", cls.cloudformation_type())
    if config_name not in backend.endpoint_configs:
        raise ResourceFailed(f"EndpointConfigName: endpoint configuration {config_name} does not exist")
    endpoint = backend.create_endpoint(
        endpoint_name=name, endpoint_config_name=config_name, tags=properties.get("Tags", [])
    )
    _keep_deployment_config(endpoint, properties)
    return await_deployment(endpoint, config_name)


def _keep_deployment_config(endpoint: FakeEndpoint, properties: dict[str, Any]) -> None:
    """DescribeEndpoint's ``LastDeploymentConfig``: the blue/green policy the endpoint was given.

    Set before an update starts, so the deployment (``UpdateEndpoint``) follows the new policy.
    """
    if properties.get("DeploymentConfig"):
        endpoint.last_deployment_config = properties["DeploymentConfig"]
    elif hasattr(endpoint, "last_deployment_config"):
        del endpoint.last_deployment_config


def _rolling_back(endpoint: FakeEndpoint, account_id: str, region_name: str) -> bool:
    """Whether the stack that owns ``endpoint`` is rolling an update back.

    CloudFormation then puts the previous configuration back; on AWS the endpoint never left it
    (SageMaker rolled its own deployment back), so nothing is deployed or guarded. Here the rollback
    re-creates that configuration under a new name, and the endpoint moves to it at once, unguarded:
    an alarm still in ALARM must not fail the rollback too."""
    from moto.cloudformation.models import cloudformation_backends

    for stack in cloudformation_backends[account_id][region_name].stacks.values():
        if stack.status == "UPDATE_ROLLBACK_IN_PROGRESS" and any(
            resource is endpoint for resource in stack.resource_map._parsed_resources.values()
        ):
            return True
    return False


def update_endpoint(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    """Same name: UpdateEndpoint on the same endpoint (blue/green). A new name is a replacement."""
    properties = cloudformation_json["Properties"]
    backend = _backend(account_id, region_name)
    name = original_resource.endpoint_name
    if (properties.get("EndpointName") or name) != name:
        return replace_after_update(
            cls, original_resource, properties["EndpointName"], cloudformation_json, account_id, region_name
        )
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ResourceFailed(f"Endpoint {name} no longer exists; delete the stack and create it again")
    config_name = require(properties, "EndpointConfigName", cls.cloudformation_type())
    _keep_deployment_config(endpoint, properties)
    if config_name != endpoint.endpoint_config_name:
        update = getattr(backend, "update_endpoint", None)
        if update is None:
            raise ResourceFailed("this local cloud cannot update endpoints (UpdateEndpoint is not installed)")
        try:
            if _rolling_back(original_resource, account_id, region_name):
                endpoint = update(name, config_name, restoring=True)
            else:
                endpoint = update(name, config_name)
        except SageMakerValidationError as error:
            raise ResourceFailed(message_of(error)) from None
        await_deployment(endpoint, config_name)
    if "Tags" in properties:
        endpoint.tags = properties["Tags"]
    return endpoint


def install(cloud) -> None:
    """Teach moto's three SageMaker models (idempotent: plain attribute assignments)."""
    explicit_names = "moto honouring ModelName, EndpointConfigName and EndpointName in templates"
    for model, name_type in (
        (Model, "ModelName"),
        (FakeEndpointConfig, "EndpointConfigName"),
        (FakeEndpoint, "EndpointName"),
    ):
        seam.patch(
            model,
            "cloudformation_name_type",
            value=staticmethod(lambda name_type=name_type: name_type),
            why=f"a template's explicit {name_type} is used (moto ignores it)",
            until=explicit_names,
        )
    lifecycle = "moto creating SageMaker resources from templates as SageMaker does (properties, waits, updates)"
    for model, action, handler in (
        (Model, "create", create_model),
        (Model, "update", replace_after_update),
        (FakeEndpointConfig, "create", create_endpoint_config),
        (FakeEndpointConfig, "update", replace_after_update),
        (FakeEndpoint, "create", create_endpoint),
        (FakeEndpoint, "update", update_endpoint),
    ):
        seam.patch(
            model,
            f"{action}_from_cloudformation_json",
            value=classmethod(handler),
            why=f"AWS::SageMaker::{model.__name__.removeprefix('Fake')} {action} through the API's own backend methods",
            until=lifecycle,
        )
