"""Local Service Catalog: products with provisioning artifacts, CloudFormation types, provisioning.

Provisioning a product creates the CloudFormation stack ``SC-<account>-pp-<id>`` from the
artifact's template in the local S3 (see ``provisioning``).
"""

from __future__ import annotations

from localcloud.core import moto_seam as seam
from localcloud.services.servicecatalog import catalog
from localcloud.services.servicecatalog.api import ServiceCatalogApi
from localcloud.services.servicecatalog.provisioning import ProvisioningService


def provisioning_service() -> ProvisioningService:
    """The running cloud's provisioning service (SageMaker projects provision through it)."""
    cloud = seam.bound()
    if cloud is None:
        raise RuntimeError("no local cloud is running in this process")
    return cloud.service(ProvisioningService)


def install(cloud) -> ProvisioningService:
    catalog.patch_backend()
    cloud.state.note_backend("servicecatalog")
    service = ProvisioningService(cloud)
    ServiceCatalogApi(service).register(cloud)
    return service
