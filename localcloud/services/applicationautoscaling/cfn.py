"""AWS::ApplicationAutoScaling::ScalableTarget and ScalingPolicy through moto's backend.

A scalable target's Ref is ``<ResourceId>|<ScalableDimension>|<ServiceNamespace>``, as in
CloudFormation; a policy names its target by that Ref (``ScalingTargetId``) or by the three fields.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.exceptions import AWSValidationException
from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.core.common_models import CloudFormationModel

from localcloud.services.cloudformation.base import ResourceFailed, StackResource, message_of
from localcloud.services.cloudformation.properties import as_int, require

TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"


def _backend(account_id: str, region_name: str):
    return applicationautoscaling_backends[account_id][region_name]


class CfnScalableTarget(StackResource, CloudFormationModel):
    TYPE = TARGET
    ATTRIBUTES = ("Id",)

    def __init__(self, namespace: str, resource_id: str, dimension: str):
        self.namespace, self.resource_id, self.dimension = namespace, resource_id, dimension
        self.physical_id = f"{resource_id}|{dimension}|{namespace}"
        self.attributes = {"Id": self.physical_id}

    @classmethod
    def _register(cls, properties: dict[str, Any], account_id: str, region_name: str) -> CfnScalableTarget:
        target = cls(
            require(properties, "ServiceNamespace", TARGET),
            require(properties, "ResourceId", TARGET),
            require(properties, "ScalableDimension", TARGET),
        )
        minimum = as_int(require(properties, "MinCapacity", TARGET), "MinCapacity")
        maximum = as_int(require(properties, "MaxCapacity", TARGET), "MaxCapacity")
        if minimum > maximum:
            raise ResourceFailed(f"{TARGET}: MinCapacity ({minimum}) is above MaxCapacity ({maximum})")
        try:
            _backend(account_id, region_name).register_scalable_target(
                target.namespace,
                target.resource_id,
                target.dimension,
                minimum,
                maximum,
                properties.get("RoleARN"),
                properties.get("SuspendedState"),
            )
        except AWSValidationException as error:
            raise ResourceFailed(f"{TARGET}: {message_of(error)}") from None
        return target

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._register(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        updated = cls._register(cloudformation_json["Properties"], account_id, region_name)
        if updated.physical_id != original_resource.physical_id:
            original_resource.delete(account_id, region_name)
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        for policy in list(backend.policies.values()):
            if policy.resource_id == self.resource_id and policy.scalable_dimension == self.dimension:
                backend.delete_scaling_policy(policy.policy_name, self.namespace, self.resource_id, self.dimension)
        try:
            backend.deregister_scalable_target(self.namespace, self.resource_id, self.dimension)
        except AWSValidationException:
            pass  # already gone: deleting what is not there succeeds, as CloudFormation does


class CfnScalingPolicy(StackResource, CloudFormationModel):
    TYPE = POLICY
    NAME_PROPERTY = "PolicyName"
    ATTRIBUTES = ("Arn",)

    def __init__(self, name: str, namespace: str, resource_id: str, dimension: str, arn: str):
        self.name, self.namespace, self.resource_id, self.dimension = name, namespace, resource_id, dimension
        self.physical_id = arn
        self.attributes = {"Arn": arn}

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region_name: str) -> CfnScalingPolicy:
        if properties.get("ScalingTargetId"):
            parts = properties["ScalingTargetId"].split("|")
            if len(parts) != 3:
                raise ResourceFailed(
                    f"{POLICY}: ScalingTargetId {properties['ScalingTargetId']!r} is not the Ref "
                    "of an AWS::ApplicationAutoScaling::ScalableTarget"
                )
            resource_id, dimension, namespace = parts
        else:
            namespace = require(properties, "ServiceNamespace", POLICY)
            resource_id = require(properties, "ResourceId", POLICY)
            dimension = require(properties, "ScalableDimension", POLICY)
        policy_type = require(properties, "PolicyType", POLICY)
        body = (
            properties.get("TargetTrackingScalingPolicyConfiguration")
            if policy_type == "TargetTrackingScaling"
            else properties.get("StepScalingPolicyConfiguration")
        )
        if not body:
            raise ResourceFailed(f"{POLICY} {name}: {policy_type} needs its configuration property")
        try:
            policy = _backend(account_id, region_name).put_scaling_policy(
                name, namespace, resource_id, dimension, body, policy_type
            )
        except AWSValidationException as error:
            raise ResourceFailed(f"{POLICY} {name}: {message_of(error)}") from None
        return cls(name, namespace, resource_id, dimension, policy.policy_arn)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._put(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        updated = cls._put(new_resource_name, cloudformation_json["Properties"], account_id, region_name)
        if (updated.name, updated.resource_id) != (original_resource.name, original_resource.resource_id):
            original_resource.delete(account_id, region_name)
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            _backend(account_id, region_name).delete_scaling_policy(
                self.name, self.namespace, self.resource_id, self.dimension
            )
        except AWSValidationException:
            pass  # the target's deletion took it along
