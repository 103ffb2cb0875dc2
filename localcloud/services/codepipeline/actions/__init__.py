"""Action providers: each runs one action of a stage and reports its outcome.

A provider is ``run(context) -> Outcome`` and raises ``ActionFailed`` with the reason a user sees
in GetPipelineState's error details.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ActionFailed(Exception):
    """The action failed; the message is the error detail CodePipeline shows."""

    def __init__(self, message: str, code: str = "JobFailed"):
        super().__init__(message)
        self.code = code


class Interrupted(Exception):
    """The local cloud is stopping, or the execution was abandoned: the action is rerun or stopped."""


@dataclass
class Outcome:
    summary: str = ""
    output_variables: dict[str, str] = field(default_factory=dict)
    external_id: str = ""
    external_url: str = ""
    revision: dict[str, str] | None = None


@dataclass
class ActionContext:
    """What an action needs: its resolved configuration, artifact locations and a way to talk to AWS."""

    cloud: Any
    region: str
    pipeline_name: str
    execution_id: str
    stage_name: str
    action: dict[str, Any]
    configuration: dict[str, str]
    bucket: str
    inputs: dict[str, dict[str, str]]
    outputs: dict[str, dict[str, str]]
    state: dict[str, Any]
    should_stop: Callable[[], bool]
    save: Callable[[], None]

    def client(self, service: str):
        return self.cloud.client(service, self.region)

    def require(self, key: str) -> str:
        value = self.configuration.get(key)
        if not value:
            raise ActionFailed(f"action {self.action['name']}: configuration {key} is required", "ConfigurationError")
        return value


def provider(action: dict[str, Any]) -> Callable[[ActionContext], Outcome]:
    from localcloud.services.codepipeline.actions import approval, cloudformation, codebuild, source

    kind = action["actionTypeId"]
    table = {
        ("Source", "CodeCommit"): source.run_codecommit,
        ("Source", "CodeStarSourceConnection"): source.run_connection,
        ("Source", "S3"): source.run_s3,
        ("Build", "CodeBuild"): codebuild.run,
        ("Test", "CodeBuild"): codebuild.run,
        ("Deploy", "CloudFormation"): cloudformation.run,
        ("Approval", "Manual"): approval.run,
    }
    found = table.get((kind["category"], kind["provider"]))
    if found is None:
        supported = ", ".join(f"{c}/{p}" for c, p in table)
        raise ActionFailed(
            f"action {action['name']}: {kind['category']}/{kind['provider']} is not supported locally "
            f"(supported: {supported})",
            "ConfigurationError",
        )
    return found
