"""The two CodeCommit repositories, seeded from the seed archives (CodeCommit variant only)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codecommit as codecommit
from constructs import Construct

from service_catalog.project.parameters import NAMES, ProjectParameters


class SeedRepositories(Construct):
    """`sagemaker-<project>-modelbuild` and `-modeldeploy`, first commit = the seed archive.

    Exists only under the `UseCodeCommit` condition: with a CodeConnections
    connection the repositories live at the Git provider.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        params: ProjectParameters,
        modelbuild_seed_key: str,
        modeldeploy_seed_key: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.modelbuild = self._repository(
            "ModelBuild",
            params,
            NAMES.modelbuild_repository,
            modelbuild_seed_key,
            "ModelBuild code: the SageMaker pipeline that trains, evaluates and registers the model.",
        )
        self.modeldeploy = self._repository(
            "ModelDeploy",
            params,
            NAMES.modeldeploy_repository,
            modeldeploy_seed_key,
            "ModelDeploy code: deploys approved models to staging, tests them, then to prod.",
        )

    def _repository(
        self, construct_id: str, params: ProjectParameters, name: str, seed_key: str, description: str
    ) -> codecommit.CfnRepository:
        repository = codecommit.CfnRepository(
            self,
            construct_id,
            repository_name=NAMES.sub(name),
            repository_description=description,
            code=codecommit.CfnRepository.CodeProperty(
                branch_name=params.source_branch.value_as_string,
                s3=codecommit.CfnRepository.S3Property(bucket=params.asset_bucket.value_as_string, key=seed_key),
            ),
        )
        repository.cfn_options.condition = params.use_codecommit
        repository.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        return repository
