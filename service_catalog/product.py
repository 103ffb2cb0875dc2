"""The product: a `ProductStack` holding one SageMaker project's resources."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

from service_catalog.project.artifact_bucket import ArtifactBucket
from service_catalog.project.build_projects import BuildProjects
from service_catalog.project.cleanup import ProjectCleanup
from service_catalog.project.encryption import ProjectKey
from service_catalog.project.model_registry import ModelRegistry
from service_catalog.project.parameters import ProjectParameters
from service_catalog.project.pipelines import ProjectPipelines
from service_catalog.project.repositories import SeedRepositories
from service_catalog.project.sagemaker_roles import SageMakerRoles
from service_catalog.project.triggers import PipelineTriggers

PRODUCT_DESCRIPTION = (
    "MLOps template for model building, training and deployment: CodeCommit or "
    "CodeConnections repositories, CodePipeline, a SageMaker pipeline and a model registry, "
    "staging and prod endpoints behind a manual approval."
)


@dataclass(frozen=True)
class ProductAssets:
    """Where the product's files are, relative to the `AssetBucketName` parameter."""

    bucket_name: str
    modelbuild_seed_key: str
    modeldeploy_seed_key: str
    cleanup_handler_key: str


class MLOpsProjectProduct(servicecatalog.ProductStack):
    """Everything one SageMaker project gets, wired from single-concern constructs.

    The product's files are not CDK assets of this stack (that would need a
    deployment custom resource in the portfolio); they are addressed as
    `AssetBucketName` + fixed content-hash keys, so the template stays standalone.
    """

    def __init__(self, scope: Construct, construct_id: str, *, assets: ProductAssets) -> None:
        super().__init__(scope, construct_id, description=PRODUCT_DESCRIPTION)
        self.params = ProjectParameters(self, "Parameters", asset_bucket_name=assets.bucket_name)
        key = ProjectKey(self, "Encryption")
        self.bucket = ArtifactBucket(self, "ArtifactBucket", key_arn=key.key_arn)
        self.registry = ModelRegistry(self, "ModelRegistry")
        self.repositories = SeedRepositories(
            self,
            "Repositories",
            params=self.params,
            modelbuild_seed_key=assets.modelbuild_seed_key,
            modeldeploy_seed_key=assets.modeldeploy_seed_key,
        )
        sagemaker_roles = SageMakerRoles(self, "SageMakerRoles", bucket=self.bucket, key_arn=key.key_arn)
        builds = BuildProjects(
            self,
            "Builds",
            bucket=self.bucket,
            key_arn=key.key_arn,
            sagemaker_pipeline_role_arn=sagemaker_roles.pipeline_role.arn,
            model_execution_role_arn=sagemaker_roles.model_role.arn,
        )
        self.pipelines = ProjectPipelines(
            self,
            "Pipelines",
            params=self.params,
            bucket=self.bucket,
            key_arn=key.key_arn,
            repositories=self.repositories,
            builds=builds,
            model_execution_role_arn=sagemaker_roles.model_role.arn,
        )
        self.triggers = PipelineTriggers(
            self,
            "Triggers",
            params=self.params,
            modelbuild_pipeline_arn=self.pipelines.modelbuild_arn,
            modeldeploy_pipeline_arn=self.pipelines.modeldeploy_arn,
        )
        self.cleanup = ProjectCleanup(
            self,
            "Cleanup",
            params=self.params,
            handler_key=assets.cleanup_handler_key,
            bucket=self.bucket,
            deploy_role=self.pipelines.deploy_role,
            # Referenced already: the bucket and the deploy role. Named only: these.
            depends_on=[self.bucket.policy, self.registry.group, sagemaker_roles.model_role.role],
        )
