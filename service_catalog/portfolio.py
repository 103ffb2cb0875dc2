"""The portfolio stack: portfolio, product, launch role constraint, Studio principal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

from service_catalog.launch_role import LaunchRole
from service_catalog.product import PRODUCT_DESCRIPTION, MLOpsProjectProduct, ProductAssets

PORTFOLIO_NAME = "SageMaker MLOps templates"
PROVIDER_NAME = "Platform team"
PRODUCT_NAME = "MLOps template for model building, training and deployment"
PRODUCT_VERSION = "v1.0"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"


@dataclass(frozen=True)
class AssetFiles:
    """The files the product needs at provisioning time (built before synthesis)."""

    modelbuild_seed: Path
    modeldeploy_seed: Path
    cleanup_handler: Path


class PortfolioStack(cdk.Stack):
    """Publishes the product so SageMaker Studio lists it under organization templates."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        asset_bucket_name: str,
        asset_files: AssetFiles,
        synthesizer: cdk.IStackSynthesizer,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            synthesizer=synthesizer,
            description="Service Catalog portfolio with the SageMaker MLOps project template.",
        )
        studio_role_arn = cdk.CfnParameter(
            self,
            "StudioExecutionRoleArn",
            type="String",
            allowed_pattern=ROLE_ARN_PATTERN,
            constraint_description=(
                "StudioExecutionRoleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>): "
                "the execution role of your SageMaker Studio domain or user profile"
            ),
            description="Execution role of the SageMaker Studio users who may create projects.",
        )

        product_assets = self._publish_product_files(asset_bucket_name, asset_files)
        self.product_stack = MLOpsProjectProduct(self, "MLOpsProject", assets=product_assets)
        self.portfolio = servicecatalog.Portfolio(
            self,
            "Portfolio",
            display_name=PORTFOLIO_NAME,
            provider_name=PROVIDER_NAME,
            description="Project templates for SageMaker Studio.",
        )
        self.product = servicecatalog.CloudFormationProduct(
            self,
            "Product",
            product_name=PRODUCT_NAME,
            owner=PROVIDER_NAME,
            description=PRODUCT_DESCRIPTION,
            product_versions=[
                servicecatalog.CloudFormationProductVersion(
                    product_version_name=PRODUCT_VERSION,
                    cloud_formation_template=servicecatalog.CloudFormationTemplate.from_product_stack(
                        self.product_stack
                    ),
                )
            ],
        )
        # Studio only lists products carrying this tag.
        cdk.Tags.of(self.product).add("sagemaker:studio-visibility", "true")
        self.portfolio.add_product(self.product)

        self.launch_role = LaunchRole(self, "LaunchRole", asset_bucket_name=product_assets.bucket_name)
        self.portfolio.set_launch_role(
            self.product, iam.Role.from_role_arn(self, "LaunchRoleRef", self.launch_role.arn, mutable=False)
        )
        self.portfolio.give_access_to_role(
            iam.Role.from_role_arn(self, "StudioRole", studio_role_arn.value_as_string, mutable=False)
        )

    def _publish_product_files(self, bucket_name: str, files: AssetFiles) -> ProductAssets:
        """Register the product's files as file assets of this stack.

        They land in the assets manifest (so publishing uploads them next to the
        product template) under content-hash keys that the product template names.
        """
        keys = {}
        for construct_id, path in (
            ("ModelBuildSeedCode", files.modelbuild_seed),
            ("ModelDeploySeedCode", files.modeldeploy_seed),
            ("CleanupHandlerCode", files.cleanup_handler),
        ):
            asset = s3_assets.Asset(self, construct_id, path=str(path))
            if cdk.Token.is_unresolved(asset.s3_object_key):
                raise ValueError("asset keys must be literal: use a synthesizer with a fixed bucket name")
            keys[construct_id] = asset.s3_object_key
        return ProductAssets(
            bucket_name=bucket_name,
            modelbuild_seed_key=keys["ModelBuildSeedCode"],
            modeldeploy_seed_key=keys["ModelDeploySeedCode"],
            cleanup_handler_key=keys["CleanupHandlerCode"],
        )
