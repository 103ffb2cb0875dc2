"""The service modules that extend moto, in the order they are installed."""

from __future__ import annotations

import importlib

SERVICE_MODULES = [
    "localcloud.services.sts.sessions",
    "localcloud.services.iam.simulation",
    "localcloud.services.events.delivery",
    "localcloud.services.events.scheduler",
    "localcloud.services.s3.notifications",
    "localcloud.services.cloudformation",
    "localcloud.services.codebuild",
    "localcloud.services.codepipeline",
    "localcloud.services.sagemaker.jobs_api",
    "localcloud.services.sagemaker.tuning",
    "localcloud.services.sagemaker.transform",
    "localcloud.services.sagemaker.pipelines",
    "localcloud.services.cloudwatch",
    "localcloud.services.applicationautoscaling",
    "localcloud.services.sagemaker.endpoints",
    "localcloud.services.sagemaker.registry_events",
    "localcloud.services.codecommit",
    "localcloud.services.servicecatalog",
    "localcloud.services.sagemaker.projects",
]


def install_all(cloud) -> list:
    """Import each module and call its ``install(cloud)``; the service objects returned are the cloud's."""
    for name in SERVICE_MODULES:
        service = importlib.import_module(name).install(cloud)
        if service is not None:
            cloud.register(service)
    return cloud.services
