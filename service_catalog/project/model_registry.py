"""The project's model package group: where ModelBuild registers and approvers approve."""

from __future__ import annotations

from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from service_catalog.project.parameters import NAMES


class ModelRegistry(Construct):
    """`<project-name>-<project-id>` (AWS::SageMaker::ModelPackageGroup)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.group_name = NAMES.sub(NAMES.model_package_group)
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=self.group_name,
            model_package_group_description=NAMES.sub("Models trained by SageMaker project ${SageMakerProjectName}"),
        )
