"""CloudFormation resource types the project's templates need, taught to moto's CloudFormation.

One module per AWS service, as moto organises its own models; ``stacks`` fixes the stack lifecycle
(failures, rollback, ordering) and ``custom_resources`` runs Lambda-backed custom resources.
New models subclass ``CloudFormationModel`` directly (moto discovers types among its direct
subclasses) and stay in our modules, so the pickled CloudFormation state can find them again.
"""

from __future__ import annotations

from moto.cloudformation import parsing

from localcloud.services.applicationautoscaling import cfn as applicationautoscaling
from localcloud.services.cloudformation import custom_resources, stacks
from localcloud.services.cloudwatch import cfn as cloudwatch
from localcloud.services.codebuild import cfn as codebuild
from localcloud.services.codepipeline import cfn as codepipeline
from localcloud.services.kms import cfn as kms
from localcloud.services.s3 import cfn as s3
from localcloud.services.sagemaker import cfn as sagemaker
from localcloud.services.sagemaker import model_packages as registry

MODEL_MODULES = (applicationautoscaling, cloudwatch, codebuild, codepipeline, custom_resources, s3, sagemaker)


def _forget_model_cache() -> None:
    """moto caches its type map on first use; our subclasses must be in it."""
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def install(cloud) -> None:
    stacks.install()
    kms.install()
    sagemaker.install(cloud)
    s3.install()
    custom_resources.install(cloud)
    registry.install(cloud)
    _forget_model_cache()
