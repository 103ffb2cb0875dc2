"""Local Service Catalog: products with provisioning artifacts, CloudFormation types, provisioning.

Provisioning a product creates the CloudFormation stack ``SC-<account>-pp-<id>`` from the
artifact's template in the local S3 (see ``provisioning``).
"""

from __future__ import annotations

from localcloud.services.codecommit.cfn import refresh_model_lookup
from localcloud.services.servicecatalog import catalog, cfn  # noqa: F401 - cfn defines the CloudFormation models moto discovers
from localcloud.services.servicecatalog.api import ServiceCatalogApi
from localcloud.services.servicecatalog.provisioning import ProvisioningService

_SERVICES: list[ProvisioningService] = []


def provisioning_service() -> ProvisioningService:
    """The running cloud's provisioning service (SageMaker projects provision through it)."""
    if not _SERVICES:
        raise RuntimeError("localcloud.services.servicecatalog is not installed")
    return _SERVICES[-1]


def install(cloud) -> ProvisioningService:
    catalog.patch_backend()
    refresh_model_lookup()
    cloud.state.note_backend("servicecatalog")
    service = ProvisioningService(cloud)
    ServiceCatalogApi(service).register(cloud)
    _SERVICES[:] = [service]
    return service
