"""AWS::CodeBuild::Project through moto's ``create_project``, in the API's shape.

The build engine reads projects from moto's backend, so the environment variables, buildspec,
artifacts and logs configuration must be there exactly as ``BatchGetProjects`` would return them.
"""

from __future__ import annotations

from typing import Any

from moto.codebuild.models import codebuild_backends
from moto.core.common_models import CloudFormationModel

from localcloud.core import names
from localcloud.services.cloudformation.base import ResourceFailed, StackResource
from localcloud.services.cloudformation.properties import as_int, require, to_api_shape

TYPE = "AWS::CodeBuild::Project"
RENAMES = {"BuildSpec": "buildspec"}


def project_request(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The CreateProject arguments of moto's backend, from the template's properties."""
    environment = to_api_shape(require(properties, "Environment", TYPE))
    for variable in environment.get("environmentVariables", []):
        variable["value"] = str(variable.get("value", ""))
        variable.setdefault("type", "PLAINTEXT")
    tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags") or []]
    return {
        "project_name": name,
        "description": properties.get("Description"),
        "project_source": to_api_shape(require(properties, "Source", TYPE), renames=RENAMES),
        "artifacts": to_api_shape(require(properties, "Artifacts", TYPE)),
        "environment": environment,
        "service_role": require(properties, "ServiceRole", TYPE),
        "tags": tags,
        "cache": to_api_shape(properties.get("Cache")) if properties.get("Cache") else None,
        "timeout": as_int(properties.get("TimeoutInMinutes", 60), "TimeoutInMinutes"),
        "queued_timeout": as_int(properties.get("QueuedTimeoutInMinutes", 480), "QueuedTimeoutInMinutes"),
        "source_version": properties.get("SourceVersion"),
        "logs_config": to_api_shape(properties.get("LogsConfig")) if properties.get("LogsConfig") else None,
        "vpc_config": to_api_shape(properties.get("VpcConfig")) if properties.get("VpcConfig") else None,
    }


def _name(resource_name: str, properties: dict[str, Any]) -> str:
    """The given Name, or the one moto made up (stack-LogicalId-SUFFIX) made to fit CodeBuild's rule."""
    return resource_name if properties.get("Name") else names.CODEBUILD_PROJECT.generated(resource_name)


class CfnCodeBuildProject(StackResource, CloudFormationModel):
    TYPE = TYPE
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("Arn", "Id")

    def __init__(self, name: str, arn: str):
        self.physical_id = name
        self.attributes = {"Arn": arn, "Id": name}

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region_name: str) -> CfnCodeBuildProject:
        request = project_request(name, properties)
        backend = codebuild_backends[account_id][region_name]
        metadata = backend.create_project(**request)
        if properties.get("EncryptionKey"):
            metadata["encryptionKey"] = properties["EncryptionKey"]
        if properties.get("ConcurrentBuildLimit") is not None:
            metadata["concurrentBuildLimit"] = as_int(properties["ConcurrentBuildLimit"], "ConcurrentBuildLimit")
        return cls(name, metadata["arn"])

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        resource_name = _name(resource_name, cloudformation_json["Properties"])
        if resource_name in codebuild_backends[account_id][region_name].codebuild_projects:
            raise ResourceFailed(f"CodeBuild project {resource_name} already exists")
        return cls._put(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        new_resource_name = _name(new_resource_name, cloudformation_json["Properties"])
        backend = codebuild_backends[account_id][region_name]
        history = backend.build_history.get(original_resource.physical_id, [])
        updated = cls._put(new_resource_name, cloudformation_json["Properties"], account_id, region_name)
        if new_resource_name != original_resource.physical_id:
            original_resource.delete(account_id, region_name)
        else:
            backend.build_history[new_resource_name] = history  # an update keeps the project's builds
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        codebuild_backends[account_id][region_name].delete_project(self.physical_id)
