"""CloudFormation resource types the project's templates need, taught to moto's CloudFormation.

One module per AWS service, as moto organises its own models; ``stacks`` fixes the stack lifecycle
(failures, rollback, ordering), ``operations`` runs it in the background as CloudFormation does, and
``custom_resources`` runs Lambda-backed custom resources.
New models subclass ``CloudFormationModel`` directly (moto discovers types among its direct
subclasses) and stay in our modules, so the pickled CloudFormation state can find them again.
"""

from __future__ import annotations

from localcloud.core import moto_seam as seam
from localcloud.services.applicationautoscaling import cfn as applicationautoscaling
from localcloud.services.cloudformation import custom_resources, stacks
from localcloud.services.cloudformation.operations import StackOperations
from localcloud.services.cloudwatch import cfn as cloudwatch
from localcloud.services.codebuild import cfn as codebuild
from localcloud.services.codecommit import cfn as codecommit
from localcloud.services.codepipeline import cfn as codepipeline
from localcloud.services.s3 import cfn as s3
from localcloud.services.sagemaker import cfn as sagemaker
from localcloud.services.sagemaker import model_packages as registry
from localcloud.services.servicecatalog import cfn as servicecatalog

# every module defining CloudFormation resource types: each service's cfn.py, and the custom resource
MODEL_MODULES = (
    applicationautoscaling,
    cloudwatch,
    codebuild,
    codecommit,
    codepipeline,
    custom_resources,
    s3,
    sagemaker,
    servicecatalog,
)


def install(cloud) -> StackOperations:
    stacks.install()
    sagemaker.install(cloud)
    s3.install()
    custom_resources.install(cloud)
    registry.install(cloud)
    seam.forget_cloudformation_types()
    return StackOperations(cloud)
