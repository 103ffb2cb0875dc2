"""CodeBuild projects (ModelBuild, ModelDeploy build, staging test), each with its role and logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_logs as logs
from constructs import Construct

from service_catalog.project.iam import (
    LIST_MODEL_PACKAGES_WHY,
    MODEL_PACKAGES_WHY,
    ProjectRole,
    Statement,
    allow,
    artifact_read,
    artifact_read_write,
    key_use,
    log_group_writes,
    model_package_group_arn,
    model_packages_arn,
    pass_role,
)
from service_catalog.project.parameters import NAMES, arn

BUILD_IMAGE = "aws/codebuild/standard:7.0"
LOG_RETENTION_DAYS = 30
EXPORT_TEMPLATE_NAME = "template-export.yml"
EXPORT_TEMPLATE_STAGING_CONFIG = "staging-config-export.json"
EXPORT_TEMPLATE_PROD_CONFIG = "prod-config-export.json"
CODEBUILD = "codebuild.amazonaws.com"


def report_groups(project_template: str) -> Statement:
    """Test reports: CodeBuild names report groups `<build project>-<report>`."""
    return allow(
        [
            "codebuild:BatchPutCodeCoverages",
            "codebuild:BatchPutTestCases",
            "codebuild:CreateReport",
            "codebuild:CreateReportGroup",
            "codebuild:UpdateReport",
        ],
        arn("codebuild", f"report-group/{project_template}-*"),
        why=(
            "CodeBuild names report groups <build project>-<report> from the buildspec; limited to this build project."
        ),
    )


class BuildProject(Construct):
    """One CodeBuild project fed by CodePipeline, with its own role and log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_template: str,
        description: str,
        buildspec: str,
        environment: dict[str, str],
        statements: list[Statement],
        key_arn: str,
        timeout_minutes: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name_template = name_template
        self.project_name = NAMES.sub(name_template)
        log_group_template = f"/aws/codebuild/{name_template}"
        self.log_group = logs.CfnLogGroup(
            self,
            "Logs",
            log_group_name=NAMES.sub(log_group_template),
            retention_in_days=LOG_RETENTION_DAYS,
        )
        self.log_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        self.role = ProjectRole(
            self,
            "ServiceRole",
            service=CODEBUILD,
            description=description,
            statements=[
                log_group_writes(log_group_template),
                report_groups(name_template),
                key_use(key_arn),
                *statements,
            ],
        )
        self.project = codebuild.CfnProject(
            self,
            "Project",
            name=self.project_name,
            description=description,
            service_role=self.role.arn,
            encryption_key=key_arn,
            artifacts=codebuild.CfnProject.ArtifactsProperty(type="CODEPIPELINE"),
            source=codebuild.CfnProject.SourceProperty(type="CODEPIPELINE", build_spec=buildspec),
            environment=codebuild.CfnProject.EnvironmentProperty(
                type="LINUX_CONTAINER",
                compute_type="BUILD_GENERAL1_SMALL",
                image=BUILD_IMAGE,
                image_pull_credentials_type="CODEBUILD",
                privileged_mode=False,
                environment_variables=[
                    codebuild.CfnProject.EnvironmentVariableProperty(name=key, value=value, type="PLAINTEXT")
                    for key, value in environment.items()
                ],
            ),
            logs_config=codebuild.CfnProject.LogsConfigProperty(
                cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
                    status="ENABLED", group_name=self.log_group.ref
                )
            ),
            timeout_in_minutes=timeout_minutes,
            queued_timeout_in_minutes=60,
        )
        self.project_arn = arn("codebuild", f"project/{name_template}")


class BuildProjects(Construct):
    """The three builds the pipelines run, with the contract's environment variables."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket,
        key_arn: str,
        sagemaker_pipeline_role_arn: str,
        model_execution_role_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        region = cdk.Aws.REGION
        project_name = NAMES.sub("${SageMakerProjectName}")
        project_id = NAMES.sub("${SageMakerProjectId}")
        group = NAMES.sub(NAMES.model_package_group)
        sagemaker_pipeline = arn("sagemaker", f"pipeline/{NAMES.sagemaker_pipeline}")

        self.modelbuild = BuildProject(
            self,
            "ModelBuild",
            name_template=NAMES.modelbuild_build_project,
            description="Upserts and runs the ModelBuild SageMaker pipeline of this project.",
            buildspec="codebuild-buildspec.yml",
            environment={
                "SAGEMAKER_PROJECT_NAME": project_name,
                "SAGEMAKER_PROJECT_ID": project_id,
                "SAGEMAKER_PIPELINE_NAME": NAMES.sub(NAMES.sagemaker_pipeline),
                "SAGEMAKER_PIPELINE_ROLE_ARN": sagemaker_pipeline_role_arn,
                "ARTIFACT_BUCKET": bucket.bucket_name,
                "AWS_REGION": region,
                "MODEL_PACKAGE_GROUP_NAME": group,
            },
            statements=[
                *artifact_read_write(bucket.bucket_arn, bucket.objects_arn),
                allow(
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreatePipeline",
                        "sagemaker:DescribePipeline",
                        "sagemaker:DescribePipelineDefinitionForExecution",
                        "sagemaker:ListPipelineExecutions",
                        "sagemaker:ListTags",
                        "sagemaker:StartPipelineExecution",
                        "sagemaker:UpdatePipeline",
                    ],
                    sagemaker_pipeline,
                ),
                allow(
                    [
                        "sagemaker:DescribePipelineExecution",
                        "sagemaker:ListPipelineExecutionSteps",
                        "sagemaker:StopPipelineExecution",
                    ],
                    arn("sagemaker", f"pipeline/{NAMES.sagemaker_pipeline}/execution/*"),
                    why="Execution ids are generated at start; limited to this project's SageMaker pipeline.",
                ),
                allow(["sagemaker:DescribeModelPackageGroup"], model_package_group_arn()),
                pass_role(sagemaker_pipeline_role_arn, "sagemaker.amazonaws.com"),
            ],
            key_arn=key_arn,
            timeout_minutes=240,
        )

        self.modeldeploy = BuildProject(
            self,
            "ModelDeployBuild",
            name_template=NAMES.modeldeploy_build_project,
            description="Picks the latest approved model and writes the staging and prod parameters.",
            buildspec="buildspec.yml",
            environment={
                "SAGEMAKER_PROJECT_NAME": project_name,
                "SAGEMAKER_PROJECT_ID": project_id,
                "ARTIFACT_BUCKET": bucket.bucket_name,
                "MODEL_EXECUTION_ROLE_ARN": model_execution_role_arn,
                "MODEL_PACKAGE_GROUP_NAME": group,
                "AWS_REGION": region,
                "EXPORT_TEMPLATE_NAME": EXPORT_TEMPLATE_NAME,
                "EXPORT_TEMPLATE_STAGING_CONFIG": EXPORT_TEMPLATE_STAGING_CONFIG,
                "EXPORT_TEMPLATE_PROD_CONFIG": EXPORT_TEMPLATE_PROD_CONFIG,
            },
            statements=[
                *artifact_read_write(bucket.bucket_arn, bucket.objects_arn),
                allow(["sagemaker:ListModelPackages"], "*", why=LIST_MODEL_PACKAGES_WHY),
                allow(["sagemaker:DescribeModelPackageGroup"], model_package_group_arn()),
                allow(["sagemaker:DescribeModelPackage"], model_packages_arn(), why=MODEL_PACKAGES_WHY),
            ],
            key_arn=key_arn,
            timeout_minutes=30,
        )

        self.staging_test = BuildProject(
            self,
            "StagingTest",
            name_template=NAMES.modeldeploy_test_project,
            description="Invokes the staging endpoint with the registered test data.",
            buildspec="test/buildspec.yml",
            environment={
                "AWS_REGION": region,
                "BUILD_CONFIG": EXPORT_TEMPLATE_STAGING_CONFIG,
            },
            statements=[
                *artifact_read(bucket.bucket_arn, bucket.objects_arn),
                allow(["sagemaker:DescribeModelPackage"], model_packages_arn(), why=MODEL_PACKAGES_WHY),
                allow(
                    ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                    arn("sagemaker", f"endpoint/{NAMES.staging_endpoint}"),
                ),
            ],
            key_arn=key_arn,
            timeout_minutes=30,
        )
