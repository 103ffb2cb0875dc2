"""CloudFormation resource types the project's templates need, taught to moto's CloudFormation.

One module per AWS service, as moto organises its own models; ``stacks`` fixes the stack lifecycle
(failures, rollback, ordering) and ``custom_resources`` runs Lambda-backed custom resources.
New models subclass ``CloudFormationModel`` directly (moto discovers types among its direct
subclasses) and stay in our modules, so the pickled CloudFormation state can find them again.
"""

from __future__ import annotations

from moto.cloudformation import parsing

from . import (
    applicationautoscaling,
    cloudwatch,
    codebuild,
    codepipeline,
    custom_resources,
    kms,
    registry,
    s3,
    sagemaker,
    stacks,
)

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
