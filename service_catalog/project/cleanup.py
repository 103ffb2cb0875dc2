"""The cleanup custom resource: a small Lambda-backed resource that runs on project deletion."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from service_catalog.project.iam import (
    LIST_MODEL_PACKAGES_WHY,
    MODEL_PACKAGES_WHY,
    OBJECTS_WHY,
    ProjectRole,
    allow,
    log_group_writes,
    model_packages_arn,
    pass_role,
)
from service_catalog.project.parameters import NAMES, ProjectParameters, arn
from service_catalog.project.pipelines import STACKS_WHY

HANDLER_MODULE = "cleanup_handler"
RUNTIME = "python3.14"
TIMEOUT_SECONDS = 900
LOG_RETENTION_DAYS = 30
PROJECT_ID = "${SageMakerProjectId}"
LIST_PIPELINES_WHY = "sagemaker:ListPipelines does not support resource-level permissions."
PIPELINE_TAGS_WHY = (
    "A build may upsert a pipeline under any name, so the handler finds this project's pipelines by their "
    "sagemaker:project-id tag: it reads the tags of the account's pipelines (tags only)."
)
DELETE_PIPELINES_WHY = (
    "Pipelines a build upserted may have any name; the condition limits deletion to those tagged with this "
    "project's id."
)


class ProjectCleanup(Construct):
    """Deletes the endpoint stacks, empties the bucket and the model package group, and deletes the
    project's SageMaker pipelines (found by their sagemaker:project-id tag) on Delete.

    The custom resource depends on the bucket, the group and the deploy role, so
    CloudFormation deletes it (running the handler) before any of them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        params: ProjectParameters,
        handler_key: str,
        bucket,
        deploy_role,
        depends_on: list[cdk.CfnResource],
    ) -> None:
        super().__init__(scope, construct_id)
        log_group_template = f"/aws/lambda/{NAMES.cleanup_function}"
        self.log_group = logs.CfnLogGroup(
            self, "Logs", log_group_name=NAMES.sub(log_group_template), retention_in_days=LOG_RETENTION_DAYS
        )
        self.log_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        stacks = [
            arn("cloudformation", f"stack/{NAMES.staging_stack}/*"),
            arn("cloudformation", f"stack/{NAMES.prod_stack}/*"),
        ]
        self.role = ProjectRole(
            self,
            "Role",
            service="lambda.amazonaws.com",
            description="Cleans up this project's endpoint stacks, bucket, model packages and pipelines on deletion.",
            statements=[
                log_group_writes(log_group_template),
                allow(["cloudformation:DeleteStack", "cloudformation:DescribeStacks"], stacks, why=STACKS_WHY),
                pass_role(deploy_role.arn, "cloudformation.amazonaws.com"),
                allow(["s3:ListBucket", "s3:ListBucketVersions"], bucket.bucket_arn),
                allow(["s3:DeleteObject", "s3:DeleteObjectVersion"], bucket.objects_arn, why=OBJECTS_WHY),
                allow(["sagemaker:ListModelPackages"], "*", why=LIST_MODEL_PACKAGES_WHY),
                allow(["sagemaker:DeleteModelPackage"], model_packages_arn(), why=MODEL_PACKAGES_WHY),
                allow(["sagemaker:ListPipelines"], "*", why=LIST_PIPELINES_WHY),
                allow(["sagemaker:ListTags"], arn("sagemaker", "pipeline/*"), why=PIPELINE_TAGS_WHY),
                allow(
                    ["sagemaker:DeletePipeline"],
                    arn("sagemaker", "pipeline/*"),
                    {"StringEquals": {"aws:ResourceTag/sagemaker:project-id": NAMES.sub(PROJECT_ID)}},
                    why=DELETE_PIPELINES_WHY,
                ),
            ],
        )
        self.function = lambda_.CfnFunction(
            self,
            "Function",
            function_name=NAMES.sub(NAMES.cleanup_function),
            description="Deletes what the project's pipelines created when the project is deleted.",
            runtime=RUNTIME,
            handler=f"{HANDLER_MODULE}.handler",
            code=lambda_.CfnFunction.CodeProperty(s3_bucket=params.asset_bucket.value_as_string, s3_key=handler_key),
            role=self.role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=256,
            logging_config=lambda_.CfnFunction.LoggingConfigProperty(log_group=self.log_group.ref, log_format="Text"),
        )

        self.resource = cdk.CfnCustomResource(self, "Resource", service_token=self.function.attr_arn)
        for key, value in {
            "BucketName": bucket.bucket.ref,
            "ModelPackageGroupName": NAMES.sub(NAMES.model_package_group),
            "StackNames": [NAMES.sub(NAMES.staging_stack), NAMES.sub(NAMES.prod_stack)],
            "DeployRoleArn": deploy_role.arn,
            "ProjectId": NAMES.sub(PROJECT_ID),
        }.items():
            self.resource.add_property_override(key, value)
        for dependency in depends_on:
            self.resource.add_resource_dependency(dependency)
        self.resource.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
