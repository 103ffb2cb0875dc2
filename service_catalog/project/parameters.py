"""Product parameters, the conditions derived from them, and the names every construct shares."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from constructs import Construct

# SageMaker's own constraints on CreateProject's ProjectName.
PROJECT_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$"
# Project ids name the artifact bucket, so they must be valid in an S3 bucket name.
PROJECT_ID_PATTERN = r"^[a-z0-9](-*[a-z0-9]){0,19}$"
CONNECTION_ARN_PATTERN = (
    r"^$|^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:"
    r"connection/[a-zA-Z0-9-]+$"
)
REPOSITORY_ID_PATTERN = r"^$|^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$"
BRANCH_PATTERN = r"^[A-Za-z0-9._/-]{1,100}$"
SCHEDULE_PATTERN = r"^$|^(rate\([0-9]+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$"
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"

_PREFIX = "sagemaker-${SageMakerProjectName}-${SageMakerProjectId}"


@dataclass(frozen=True)
class ProjectNames:
    """Physical names of the project's resources, as `Fn::Sub` templates.

    Kept as templates (not tokens) so that ARNs can be written around them in one
    `Fn::Sub`; `names.sub(names.artifact_bucket)` gives the value.
    """

    artifact_bucket: str = "sagemaker-project-${SageMakerProjectId}"
    modelbuild_repository: str = "sagemaker-${SageMakerProjectName}-modelbuild"
    modeldeploy_repository: str = "sagemaker-${SageMakerProjectName}-modeldeploy"
    model_package_group: str = "${SageMakerProjectName}-${SageMakerProjectId}"
    sagemaker_pipeline: str = "sagemaker-${SageMakerProjectName}"
    modelbuild_build_project: str = f"{_PREFIX}-modelbuild"
    modeldeploy_build_project: str = f"{_PREFIX}-modeldeploy"
    modeldeploy_test_project: str = f"{_PREFIX}-modeldeploy-test"
    modelbuild_pipeline: str = f"{_PREFIX}-modelbuild"
    modeldeploy_pipeline: str = f"{_PREFIX}-modeldeploy"
    staging_stack: str = "sagemaker-${SageMakerProjectName}-deploy-staging"
    prod_stack: str = "sagemaker-${SageMakerProjectName}-deploy-prod"
    staging_endpoint: str = "${SageMakerProjectName}-staging"
    prod_endpoint: str = "${SageMakerProjectName}-prod"
    cleanup_function: str = "sagemaker-${SageMakerProjectId}-cleanup"
    rule_prefix: str = "sagemaker-${SageMakerProjectId}"

    @staticmethod
    def sub(template: str) -> str:
        """The value of a name template in the product template."""
        return cdk.Fn.sub(template)


NAMES = ProjectNames()


def arn(service: str, resource: str, *, regional: bool = True) -> str:
    """An ARN in this account (and region) whose resource part is a name template."""
    region = "${AWS::Region}" if regional else ""
    account = "${AWS::AccountId}" if service != "s3" else ""
    return cdk.Fn.sub(f"arn:${{AWS::Partition}}:{service}:{region}:{account}:{resource}")


class ProjectParameters(Construct):
    """Declares the product's parameters, rules and conditions.

    Every other construct reads names and conditions from here, so each name is
    spelled once.
    """

    def __init__(self, scope: Construct, construct_id: str, *, asset_bucket_name: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        self.project_name = cdk.CfnParameter(
            stack,
            "SageMakerProjectName",
            type="String",
            min_length=1,
            max_length=32,
            allowed_pattern=PROJECT_NAME_PATTERN,
            constraint_description=(
                "SageMakerProjectName must be 1-32 letters, digits or hyphens, starting and "
                "ending with a letter or digit"
            ),
            description="Name of the SageMaker project (set by SageMaker).",
        )
        self.project_id = cdk.CfnParameter(
            stack,
            "SageMakerProjectId",
            type="String",
            min_length=1,
            max_length=20,
            allowed_pattern=PROJECT_ID_PATTERN,
            constraint_description=(
                "SageMakerProjectId must be 1-20 lowercase letters, digits or hyphens (it names the artifact bucket)"
            ),
            description="Id of the SageMaker project (set by SageMaker).",
        )
        self.source_connection_arn = cdk.CfnParameter(
            stack,
            "SourceConnectionArn",
            type="String",
            default="",
            allowed_pattern=CONNECTION_ARN_PATTERN,
            constraint_description=(
                "SourceConnectionArn must be empty (CodeCommit) or a CodeConnections "
                "connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)"
            ),
            description=(
                "Empty: seed two CodeCommit repositories. Otherwise the ARN of a "
                "CodeConnections connection to your Git provider."
            ),
        )
        self.modelbuild_repository_id = cdk.CfnParameter(
            stack,
            "ModelBuildRepositoryId",
            type="String",
            default="",
            allowed_pattern=REPOSITORY_ID_PATTERN,
            constraint_description="ModelBuildRepositoryId must look like owner/repository",
            description="With a connection: full id (owner/repository) of the ModelBuild repository.",
        )
        self.modeldeploy_repository_id = cdk.CfnParameter(
            stack,
            "ModelDeployRepositoryId",
            type="String",
            default="",
            allowed_pattern=REPOSITORY_ID_PATTERN,
            constraint_description="ModelDeployRepositoryId must look like owner/repository",
            description="With a connection: full id (owner/repository) of the ModelDeploy repository.",
        )
        self.source_branch = cdk.CfnParameter(
            stack,
            "SourceBranch",
            type="String",
            default="main",
            allowed_pattern=BRANCH_PATTERN,
            constraint_description="SourceBranch must be a Git branch name such as main",
            description="Branch that the pipelines follow (and that CodeCommit repositories are seeded on).",
        )
        self.retraining_schedule = cdk.CfnParameter(
            stack,
            "RetrainingSchedule",
            type="String",
            default="",
            allowed_pattern=SCHEDULE_PATTERN,
            constraint_description=("RetrainingSchedule must be empty (no schedule), rate(<n> <unit>) or cron(...)"),
            description="EventBridge schedule that retrains the model, e.g. rate(7 days). Empty: off.",
        )
        self.data_arrival_trigger = cdk.CfnParameter(
            stack,
            "DataArrivalTrigger",
            type="String",
            default="false",
            allowed_values=["true", "false"],
            description="Start ModelBuild when an object is created under the bucket's data/ prefix.",
        )
        self.asset_bucket = cdk.CfnParameter(
            stack,
            "AssetBucketName",
            type="String",
            default=asset_bucket_name,
            allowed_pattern=BUCKET_NAME_PATTERN,
            constraint_description="AssetBucketName must be an S3 bucket name",
            description=(
                "Bucket holding this template's seed code and cleanup function "
                "(where the template was published). Keep the default."
            ),
        )

        self.use_codecommit = cdk.CfnCondition(
            stack,
            "UseCodeCommit",
            expression=cdk.Fn.condition_equals(self.source_connection_arn.value_as_string, ""),
        )
        self.use_connection = cdk.CfnCondition(
            stack, "UseCodeConnection", expression=cdk.Fn.condition_not(self.use_codecommit)
        )
        self.data_trigger_enabled = cdk.CfnCondition(
            stack,
            "DataArrivalTriggerEnabled",
            expression=cdk.Fn.condition_equals(self.data_arrival_trigger.value_as_string, "true"),
        )
        self.schedule_enabled = cdk.CfnCondition(
            stack,
            "RetrainingScheduleEnabled",
            expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(self.retraining_schedule.value_as_string, "")),
        )
        cdk.CfnRule(
            stack,
            "ConnectionNeedsRepositories",
            rule_condition=cdk.Fn.condition_not(
                cdk.Fn.condition_equals(self.source_connection_arn.value_as_string, "")
            ),
            assertions=[
                cdk.CfnRuleAssertion(
                    assert_=cdk.Fn.condition_not(
                        cdk.Fn.condition_equals(self.modelbuild_repository_id.value_as_string, "")
                    ),
                    assert_description=(
                        "SourceConnectionArn is set, so ModelBuildRepositoryId must name the "
                        "ModelBuild repository (owner/repository)"
                    ),
                ),
                cdk.CfnRuleAssertion(
                    assert_=cdk.Fn.condition_not(
                        cdk.Fn.condition_equals(self.modeldeploy_repository_id.value_as_string, "")
                    ),
                    assert_description=(
                        "SourceConnectionArn is set, so ModelDeployRepositoryId must name the "
                        "ModelDeploy repository (owner/repository)"
                    ),
                ),
            ],
        )

        self.names = NAMES
