"""The roles SageMaker itself assumes: one runs the ModelBuild pipeline's jobs, one serves models."""

from __future__ import annotations

from constructs import Construct

from service_catalog.project.iam import (
    MODEL_PACKAGES_WHY,
    ProjectRole,
    allow,
    artifact_read,
    artifact_read_write,
    key_use,
    model_package_group_arn,
    model_packages_arn,
    pass_role,
    sagemaker_image_pull,
    sagemaker_metrics,
)
from service_catalog.project.parameters import NAMES, arn

SAGEMAKER = "sagemaker.amazonaws.com"


class SageMakerRoles(Construct):
    """`pipeline_role` (SAGEMAKER_PIPELINE_ROLE_ARN) and `model_role` (MODEL_EXECUTION_ROLE_ARN)."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket, key_arn: str) -> None:
        super().__init__(scope, construct_id)
        jobs = [
            arn("sagemaker", "processing-job/*"),
            arn("sagemaker", "training-job/*"),
        ]
        self.pipeline_role = ProjectRole(
            self,
            "PipelineExecution",
            service=SAGEMAKER,
            description="Runs the ModelBuild SageMaker pipeline of this project and its jobs.",
            statements=[
                allow(
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:CreateTrainingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:DescribeTrainingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:StopTrainingJob",
                    ],
                    jobs,
                    why=(
                        "The SageMaker pipeline generates job names for each execution, so no "
                        "narrower ARN exists for its processing and training jobs."
                    ),
                ),
                allow(
                    ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackageGroup"],
                    [model_package_group_arn(), model_packages_arn()],
                    why=MODEL_PACKAGES_WHY,
                ),
                allow(
                    ["sagemaker:AddTags", "sagemaker:DescribeModelPackage"],
                    model_packages_arn(),
                    why=MODEL_PACKAGES_WHY,
                ),
                *artifact_read_write(bucket.bucket_arn, bucket.objects_arn),
                key_use(key_arn),
                *sagemaker_image_pull(),
                sagemaker_metrics(),
                allow(
                    [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    [
                        arn("logs", "log-group:/aws/sagemaker/ProcessingJobs:*"),
                        arn("logs", "log-group:/aws/sagemaker/TrainingJobs:*"),
                    ],
                    why="SageMaker jobs log to shared job log groups, streams named after generated jobs.",
                ),
            ],
        )
        # Jobs started by the pipeline run with this same role.
        self.pipeline_role.add_policy("pass-to-jobs", [pass_role(self.pipeline_role.arn, SAGEMAKER)])

        self.model_role = ProjectRole(
            self,
            "ModelExecution",
            service=SAGEMAKER,
            description="Serves this project's models on the staging and prod endpoints.",
            statements=[
                *artifact_read(bucket.bucket_arn, bucket.objects_arn),
                allow(
                    ["s3:PutObject"],
                    [
                        arn("s3", f"{NAMES.artifact_bucket}/datacapture-staging/*", regional=False),
                        arn("s3", f"{NAMES.artifact_bucket}/datacapture-prod/*", regional=False),
                    ],
                    why="Captured requests are keyed by endpoint, variant and time under the stage's prefix.",
                ),
                key_use(key_arn),
                *sagemaker_image_pull(),
                sagemaker_metrics(),
                allow(
                    [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    [
                        arn("logs", f"log-group:/aws/sagemaker/Endpoints/{NAMES.staging_endpoint}:*"),
                        arn("logs", f"log-group:/aws/sagemaker/Endpoints/{NAMES.prod_endpoint}:*"),
                    ],
                    why="Endpoint instances log to streams with generated names in the endpoint's log group.",
                ),
            ],
        )
