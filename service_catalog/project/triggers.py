"""EventBridge rules that start the pipelines: pushes, model approvals, new data, a schedule."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from constructs import Construct

from service_catalog.project.iam import ProjectRole, allow
from service_catalog.project.parameters import NAMES, ProjectParameters, arn

DATA_PREFIX = "data/"


def push_pattern(repository_template: str, branch: str) -> dict:
    """A commit on `branch` of one CodeCommit repository (created or moved)."""
    return {
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "resources": [arn("codecommit", repository_template)],
        "detail": {
            "event": ["referenceCreated", "referenceUpdated"],
            "referenceType": ["branch"],
            "referenceName": [branch],
        },
    }


def approval_pattern() -> dict:
    """A model package of this project's group becoming Approved (never Rejected/Pending)."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": [NAMES.sub(NAMES.model_package_group)],
            "ModelApprovalStatus": ["Approved"],
        },
    }


def data_arrival_pattern() -> dict:
    """An object created under the artifact bucket's data/ prefix."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [NAMES.sub(NAMES.artifact_bucket)]},
            "object": {"key": [{"prefix": DATA_PREFIX}]},
        },
    }


class PipelineTriggers(Construct):
    """The rules, and the one role EventBridge uses to start this project's two pipelines."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        params: ProjectParameters,
        modelbuild_pipeline_arn: str,
        modeldeploy_pipeline_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = ProjectRole(
            self,
            "StartPipelinesRole",
            service="events.amazonaws.com",
            description="Lets EventBridge start this project's ModelBuild and ModelDeploy pipelines.",
            statements=[
                allow(
                    ["codepipeline:StartPipelineExecution"],
                    [modelbuild_pipeline_arn, modeldeploy_pipeline_arn],
                )
            ],
        )
        branch = params.source_branch.value_as_string

        self.modelbuild_push = self._rule(
            "ModelBuildPush",
            "modelbuild-push",
            "Starts ModelBuild on a push to its branch.",
            modelbuild_pipeline_arn,
            event_pattern=push_pattern(NAMES.modelbuild_repository, branch),
            condition=params.use_codecommit,
        )
        self.modeldeploy_push = self._rule(
            "ModelDeployPush",
            "modeldeploy-push",
            "Starts ModelDeploy on a push to its branch.",
            modeldeploy_pipeline_arn,
            event_pattern=push_pattern(NAMES.modeldeploy_repository, branch),
            condition=params.use_codecommit,
        )
        self.model_approved = self._rule(
            "ModelApproved",
            "model-approved",
            "Starts ModelDeploy when a model package of this project is approved.",
            modeldeploy_pipeline_arn,
            event_pattern=approval_pattern(),
        )
        self.data_arrival = self._rule(
            "DataArrival",
            "data-arrival",
            "Starts ModelBuild when new data lands under data/ in the artifact bucket.",
            modelbuild_pipeline_arn,
            event_pattern=data_arrival_pattern(),
            condition=params.data_trigger_enabled,
        )
        self.schedule = self._rule(
            "RetrainingSchedule",
            "retraining-schedule",
            "Retrains the model on the schedule given at project creation.",
            modelbuild_pipeline_arn,
            schedule_expression=params.retraining_schedule.value_as_string,
            condition=params.schedule_enabled,
        )

    def _rule(
        self,
        construct_id: str,
        name_suffix: str,
        description: str,
        target_arn: str,
        *,
        event_pattern: dict | None = None,
        schedule_expression: str | None = None,
        condition: cdk.CfnCondition | None = None,
    ) -> events.CfnRule:
        rule = events.CfnRule(
            self,
            construct_id,
            name=NAMES.sub(f"{NAMES.rule_prefix}-{name_suffix}"),
            description=description,
            state="ENABLED",
            event_pattern=event_pattern,
            schedule_expression=schedule_expression,
            targets=[events.CfnRule.TargetProperty(id="pipeline", arn=target_arn, role_arn=self.role.arn)],
        )
        if condition is not None:
            rule.cfn_options.condition = condition
        return rule
