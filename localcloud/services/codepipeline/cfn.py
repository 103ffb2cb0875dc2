"""AWS::CodePipeline::Pipeline through moto's ``create_pipeline``, with the API's declaration.

CloudFormation writes ``Stages[].Actions[].ActionTypeId``; the API (and the pipeline engine, which
reads moto's backend) has ``stages[].actions[].actionTypeId``. Action ``configuration`` maps are data
and keep their keys; their values become strings, as the API holds them. A pipeline the stack
creates (or replaces) starts once, as CodePipeline starts every new pipeline; an update in place does
not start it (``RestartExecutionOnUpdate`` is not honoured: the template's pipelines leave it false).
"""

from __future__ import annotations

from typing import Any

from moto.codepipeline.exceptions import InvalidStructureException
from moto.codepipeline.models import codepipeline_backends
from moto.core.common_models import CloudFormationModel

from localcloud.core import moto_seam as seam
from localcloud.services.cloudformation.base import ResourceFailed, StackResource, message_of
from localcloud.services.cloudformation.properties import as_api_string, require, to_api_shape

TYPE = "AWS::CodePipeline::Pipeline"
DECLARATION_FIELDS = (
    "RoleArn",
    "ArtifactStore",
    "ArtifactStores",
    "Stages",
    "PipelineType",
    "ExecutionMode",
    "Variables",
    "Triggers",
)


def declaration(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The pipeline structure of CreatePipeline, from the template's properties."""
    require(properties, "RoleArn", TYPE)
    require(properties, "Stages", TYPE)
    if not properties.get("ArtifactStore") and not properties.get("ArtifactStores"):
        raise ResourceFailed(f"{TYPE} {name}: set ArtifactStore (or ArtifactStores)")
    shaped = to_api_shape(
        {k: properties[k] for k in DECLARATION_FIELDS if k in properties},
        keep_keys_under=frozenset({"configuration"}),
    )
    for stage in shaped["stages"]:
        stage["actions"] = [a for a in stage.get("actions", []) if a]
        for action in stage["actions"]:
            action["configuration"] = {
                k: as_api_string(v) for k, v in (action.get("configuration") or {}).items() if v is not None
            }
            if "runOrder" in action:
                action["runOrder"] = int(action["runOrder"])
        for blocker in stage.get("blockers", []):
            blocker.setdefault("type", "Schedule")
    shaped["name"] = name
    shaped.setdefault("pipelineType", "V1")
    return shaped


def _start_creation_run(name: str, region: str, created_by: str) -> None:
    from localcloud.services.codepipeline.api import CodePipelineService

    cloud = seam.bound()
    if cloud is None:
        raise ResourceFailed(f"{TYPE} {name}: no local cloud is running in this process to run the pipeline")
    cloud.service(CodePipelineService).start_on_creation(name, region, created_by)


class CfnPipeline(StackResource, CloudFormationModel):
    TYPE = TYPE
    NAME_PROPERTY = "Name"
    ATTRIBUTES = ("Version",)

    def __init__(self, name: str, version: int):
        self.physical_id = name
        self.attributes = {"Version": str(version)}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags") or []]
        try:
            pipeline, _ = codepipeline_backends[account_id][region_name].create_pipeline(
                declaration(resource_name, properties), tags
            )
        except InvalidStructureException as error:
            raise ResourceFailed(f"{TYPE} {resource_name}: {message_of(error)}") from None
        _start_creation_run(resource_name, region_name, kwargs.get("StackId") or "CloudFormation")
        return cls(resource_name, pipeline["version"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        if new_resource_name != original_resource.physical_id:
            replacement = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return replacement
        backend = codepipeline_backends[account_id][region_name]
        pipeline = backend.update_pipeline(declaration(new_resource_name, cloudformation_json["Properties"]))
        return cls(new_resource_name, pipeline["version"])

    def delete(self, account_id: str, region_name: str) -> None:
        codepipeline_backends[account_id][region_name].delete_pipeline(self.physical_id)
