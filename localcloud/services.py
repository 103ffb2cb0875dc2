"""The service modules that extend moto, in the order they are installed."""

from __future__ import annotations

import importlib

SERVICE_MODULES = [
    "localcloud.sts",
    "localcloud.iam",
    "localcloud.events",
    "localcloud.scheduler",
    "localcloud.cloudformation",
    "localcloud.codebuild",
    "localcloud.codepipeline",
    "localcloud.sagemaker.jobs_api",
    "localcloud.sagemaker.pipelines",
    "localcloud.sagemaker.endpoints",
    "localcloud.sagemaker.registry_events",
    "localcloud.codecommit",
    "localcloud.servicecatalog",
    "localcloud.sagemaker.projects",
]


def install_all(cloud) -> list:
    """Import each module and call its ``install(cloud)``, keeping the services that have a lifecycle."""
    installed = []
    for name in SERVICE_MODULES:
        service = importlib.import_module(name).install(cloud)
        if service is not None:
            installed.append(service)
    return installed
