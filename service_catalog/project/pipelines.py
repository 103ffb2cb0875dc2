"""The two CodePipelines (V2): ModelBuild = Source -> Build; ModelDeploy = Source -> Build ->
DeployStaging -> TestStaging -> ApproveDeployment -> DeployProd."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from constructs import Construct

from service_catalog.project.build_projects import (
    EXPORT_TEMPLATE_NAME,
    EXPORT_TEMPLATE_PROD_CONFIG,
    EXPORT_TEMPLATE_STAGING_CONFIG,
    BuildProject,
    BuildProjects,
)
from service_catalog.project.iam import (
    MODEL_PACKAGES_WHY,
    ProjectRole,
    Statement,
    allow,
    artifact_read_write,
    key_use,
    model_packages_arn,
    pass_role,
)
from service_catalog.project.parameters import NAMES, ProjectParameters, arn

SOURCE_ARTIFACT = "SourceArtifact"
BUILD_ARTIFACT = "BuildArtifact"
CLOUDFORMATION = "cloudformation.amazonaws.com"


def source_action(params: ProjectParameters, repository: Any, repository_id: cdk.CfnParameter) -> cdk.IResolvable:
    """CodeCommit (started by EventBridge, never polled) or CodeConnections, by condition."""
    codecommit_action = {
        "Name": "Source",
        "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit", "Version": "1"},
        "Configuration": {
            "RepositoryName": repository.attr_name,
            "BranchName": params.source_branch.value_as_string,
            "PollForSourceChanges": "false",
            "OutputArtifactFormat": "CODE_ZIP",
        },
        "OutputArtifacts": [{"Name": SOURCE_ARTIFACT}],
        "RunOrder": 1,
    }
    connection_action = {
        "Name": "Source",
        "ActionTypeId": {
            "Category": "Source",
            "Owner": "AWS",
            "Provider": "CodeStarSourceConnection",
            "Version": "1",
        },
        "Configuration": {
            "ConnectionArn": params.source_connection_arn.value_as_string,
            "FullRepositoryId": repository_id.value_as_string,
            "BranchName": params.source_branch.value_as_string,
            "OutputArtifactFormat": "CODE_ZIP",
            "DetectChanges": "true",
        },
        "OutputArtifacts": [{"Name": SOURCE_ARTIFACT}],
        "RunOrder": 1,
    }
    return cdk.Fn.condition_if(params.use_codecommit.logical_id, codecommit_action, connection_action)


Action = codepipeline.CfnPipeline.ActionDeclarationProperty


def build_action(name: str, project: BuildProject, input_artifact: str, output_artifact: str | None) -> Action:
    """A CodeBuild action reading `input_artifact` (and writing `output_artifact`, if any)."""
    return Action(
        name=name,
        action_type_id=codepipeline.CfnPipeline.ActionTypeIdProperty(
            category="Build", owner="AWS", provider="CodeBuild", version="1"
        ),
        configuration={"ProjectName": project.project.ref},
        input_artifacts=[codepipeline.CfnPipeline.InputArtifactProperty(name=input_artifact)],
        output_artifacts=(
            [codepipeline.CfnPipeline.OutputArtifactProperty(name=output_artifact)] if output_artifact else None
        ),
        run_order=1,
    )


def deploy_action(name: str, stack_name_template: str, config_file: str, deploy_role_arn: str) -> Action:
    """CloudFormation CREATE_UPDATE of one endpoint stack from the build artifact."""
    return Action(
        name=name,
        action_type_id=codepipeline.CfnPipeline.ActionTypeIdProperty(
            category="Deploy", owner="AWS", provider="CloudFormation", version="1"
        ),
        configuration={
            "ActionMode": "CREATE_UPDATE",
            "StackName": NAMES.sub(stack_name_template),
            "TemplatePath": f"{BUILD_ARTIFACT}::{EXPORT_TEMPLATE_NAME}",
            "TemplateConfiguration": f"{BUILD_ARTIFACT}::{config_file}",
            "RoleArn": deploy_role_arn,
        },
        input_artifacts=[codepipeline.CfnPipeline.InputArtifactProperty(name=BUILD_ARTIFACT)],
        run_order=1,
    )


def stage(name: str, *actions) -> codepipeline.CfnPipeline.StageDeclarationProperty:
    return codepipeline.CfnPipeline.StageDeclarationProperty(name=name, actions=list(actions))


STACKS_WHY = "Stack ARNs end in a generated id; limited to this project's two endpoint stacks."


def stack_arn(stack_template: str) -> str:
    return arn("cloudformation", f"stack/{stack_template}/*")


class EndpointDeployRole(ProjectRole):
    """What CloudFormation may do when it deploys (and deletes) the staging and prod endpoint stacks."""

    def __init__(self, scope: Construct, construct_id: str, *, model_execution_role_arn: str) -> None:
        endpoints = [
            arn("sagemaker", f"endpoint/{NAMES.staging_endpoint}"),
            arn("sagemaker", f"endpoint/{NAMES.prod_endpoint}"),
        ]
        alarms = [
            arn("cloudwatch", f"alarm:{NAMES.staging_endpoint}-*"),
            arn("cloudwatch", f"alarm:{NAMES.prod_endpoint}-*"),
        ]
        # CloudFormation generates model and endpoint configuration names: no narrower ARN exists.
        models_and_configs = [arn("sagemaker", "model/*"), arn("sagemaker", "endpoint-config/*")]
        scalable_targets = arn("application-autoscaling", "scalable-target/*")
        super().__init__(
            scope,
            construct_id,
            service=CLOUDFORMATION,
            description="Deploys and deletes this project's staging and prod endpoint stacks.",
            statements=[
                allow(
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreateEndpointConfig",
                        "sagemaker:CreateModel",
                        "sagemaker:DeleteEndpointConfig",
                        "sagemaker:DeleteModel",
                        "sagemaker:DeleteTags",
                        "sagemaker:DescribeEndpointConfig",
                        "sagemaker:DescribeModel",
                        "sagemaker:ListTags",
                    ],
                    models_and_configs,
                    why=(
                        "CloudFormation generates the names of the endpoint stacks' models and "
                        "endpoint configurations, so no narrower ARN exists."
                    ),
                ),
                allow(
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreateEndpoint",
                        "sagemaker:DeleteEndpoint",
                        "sagemaker:DeleteTags",
                        "sagemaker:DescribeEndpoint",
                        "sagemaker:ListTags",
                        "sagemaker:UpdateEndpoint",
                        "sagemaker:UpdateEndpointWeightsAndCapacities",
                    ],
                    endpoints,
                ),
                allow(["sagemaker:DescribeModelPackage"], model_packages_arn(), why=MODEL_PACKAGES_WHY),
                pass_role(model_execution_role_arn, "sagemaker.amazonaws.com"),
                allow(
                    [
                        "cloudwatch:DeleteAlarms",
                        "cloudwatch:DescribeAlarms",
                        "cloudwatch:ListTagsForResource",
                        "cloudwatch:PutMetricAlarm",
                        "cloudwatch:TagResource",
                    ],
                    alarms,
                    why="Limited to alarms named after this project's two endpoints (<endpoint>-<metric>).",
                ),
                allow(
                    [
                        "application-autoscaling:DeleteScalingPolicy",
                        "application-autoscaling:DeregisterScalableTarget",
                        "application-autoscaling:PutScalingPolicy",
                        "application-autoscaling:RegisterScalableTarget",
                        "application-autoscaling:TagResource",
                    ],
                    scalable_targets,
                    why="Scalable targets get generated ids when registered, so no narrower ARN exists.",
                ),
                # Application Auto Scaling's Describe calls take no resource: only "*" is allowed.
                allow(
                    [
                        "application-autoscaling:DescribeScalableTargets",
                        "application-autoscaling:DescribeScalingActivities",
                        "application-autoscaling:DescribeScalingPolicies",
                    ],
                    "*",
                    why="Application Auto Scaling's Describe actions take no resource-level permissions.",
                ),
                allow(
                    ["iam:CreateServiceLinkedRole"],
                    cdk.Fn.sub(
                        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
                        "sagemaker.application-autoscaling.amazonaws.com/"
                        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                    ),
                    {"StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}},
                ),
            ],
        )


class PipelineRole(ProjectRole):
    """A pipeline's role: its artifacts, its source, and the builds/deploys it starts."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        params: ProjectParameters,
        bucket,
        key_arn: str,
        repository_template: str,
        description: str,
        statements: list[Statement],
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            service="codepipeline.amazonaws.com",
            description=description,
            statements=[
                *artifact_read_write(bucket.bucket_arn, bucket.objects_arn),
                allow(["s3:GetBucketVersioning"], bucket.bucket_arn),
                key_use(key_arn),
                *statements,
            ],
        )
        self.add_policy(
            "codecommit-source",
            [
                allow(
                    [
                        "codecommit:CancelUploadArchive",
                        "codecommit:GetBranch",
                        "codecommit:GetCommit",
                        "codecommit:GetRepository",
                        "codecommit:GetUploadArchiveStatus",
                        "codecommit:UploadArchive",
                    ],
                    arn("codecommit", repository_template),
                )
            ],
            condition=params.use_codecommit,
        )
        self.add_policy(
            "connection-source",
            [
                allow(
                    ["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                    params.source_connection_arn.value_as_string,
                )
            ],
            condition=params.use_connection,
        )


def codebuild_runs(*projects: BuildProject) -> Statement:
    return allow(
        ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"],
        [project.project_arn for project in projects],
    )


class ProjectPipelines(Construct):
    """Both pipelines, their roles, and the role CloudFormation deploys endpoints with."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        params: ProjectParameters,
        bucket,
        key_arn: str,
        repositories,
        builds: BuildProjects,
        model_execution_role_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        artifact_store = codepipeline.CfnPipeline.ArtifactStoreProperty(
            type="S3",
            location=bucket.bucket.ref,
            encryption_key=codepipeline.CfnPipeline.EncryptionKeyProperty(id=key_arn, type="KMS"),
        )

        modelbuild_role = PipelineRole(
            self,
            "ModelBuildRole",
            params=params,
            bucket=bucket,
            key_arn=key_arn,
            repository_template=NAMES.modelbuild_repository,
            description="Runs this project's ModelBuild pipeline.",
            statements=[codebuild_runs(builds.modelbuild)],
        )
        self.modelbuild = codepipeline.CfnPipeline(
            self,
            "ModelBuild",
            name=NAMES.sub(NAMES.modelbuild_pipeline),
            pipeline_type="V2",
            execution_mode="QUEUED",
            role_arn=modelbuild_role.arn,
            artifact_store=artifact_store,
            restart_execution_on_update=False,
            stages=[
                stage("Source", source_action(params, repositories.modelbuild, params.modelbuild_repository_id)),
                stage(
                    "Build",
                    build_action("BuildAndRunSageMakerPipeline", builds.modelbuild, SOURCE_ARTIFACT, None),
                ),
            ],
        )
        self.modelbuild_arn = arn("codepipeline", NAMES.modelbuild_pipeline)

        self.deploy_role = EndpointDeployRole(
            self, "EndpointDeployRole", model_execution_role_arn=model_execution_role_arn
        )
        modeldeploy_role = PipelineRole(
            self,
            "ModelDeployRole",
            params=params,
            bucket=bucket,
            key_arn=key_arn,
            repository_template=NAMES.modeldeploy_repository,
            description="Runs this project's ModelDeploy pipeline.",
            statements=[
                codebuild_runs(builds.modeldeploy, builds.staging_test),
                allow(
                    [
                        "cloudformation:CreateStack",
                        "cloudformation:DeleteStack",
                        "cloudformation:DescribeStackEvents",
                        "cloudformation:DescribeStacks",
                        "cloudformation:UpdateStack",
                    ],
                    [stack_arn(NAMES.staging_stack), stack_arn(NAMES.prod_stack)],
                    why=STACKS_WHY,
                ),
                pass_role(self.deploy_role.arn, CLOUDFORMATION),
            ],
        )
        self.modeldeploy = codepipeline.CfnPipeline(
            self,
            "ModelDeploy",
            name=NAMES.sub(NAMES.modeldeploy_pipeline),
            pipeline_type="V2",
            execution_mode="SUPERSEDED",
            role_arn=modeldeploy_role.arn,
            artifact_store=artifact_store,
            restart_execution_on_update=False,
            stages=[
                stage(
                    "Source",
                    source_action(params, repositories.modeldeploy, params.modeldeploy_repository_id),
                ),
                stage(
                    "Build",
                    build_action("BuildDeploymentTemplates", builds.modeldeploy, SOURCE_ARTIFACT, BUILD_ARTIFACT),
                ),
                stage(
                    "DeployStaging",
                    deploy_action(
                        "DeployStagingEndpoint",
                        NAMES.staging_stack,
                        EXPORT_TEMPLATE_STAGING_CONFIG,
                        self.deploy_role.arn,
                    ),
                ),
                stage(
                    "TestStaging",
                    build_action("TestStagingEndpoint", builds.staging_test, BUILD_ARTIFACT, None),
                ),
                stage(
                    "ApproveDeployment",
                    codepipeline.CfnPipeline.ActionDeclarationProperty(
                        name="ApproveDeployment",
                        action_type_id=codepipeline.CfnPipeline.ActionTypeIdProperty(
                            category="Approval", owner="AWS", provider="Manual", version="1"
                        ),
                        configuration={"CustomData": "Staging passed its tests. Approve to deploy this model to prod."},
                        run_order=1,
                    ),
                ),
                stage(
                    "DeployProd",
                    deploy_action(
                        "DeployProdEndpoint",
                        NAMES.prod_stack,
                        EXPORT_TEMPLATE_PROD_CONFIG,
                        self.deploy_role.arn,
                    ),
                ),
            ],
        )
        self.modeldeploy_arn = arn("codepipeline", NAMES.modeldeploy_pipeline)
