"""What moto's Service Catalog does not keep: provisioning artifacts, associations, constraints.

They live on moto's backend object itself (``backend.localcloud``), so they are saved and restored
with it. ``create_product`` of moto's backend is wrapped to record the product's first
provisioning artifact, so products made through the API and through CloudFormation both get one.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from moto.servicecatalog.models import ServiceCatalogBackend, servicecatalog_backends

from localcloud.core import moto_seam as seam
from localcloud.core.errors import AwsError

ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int = 13) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


def backend(account: str, region: str) -> ServiceCatalogBackend:
    return servicecatalog_backends[account][region]


def extras(region_backend: ServiceCatalogBackend) -> dict[str, dict]:
    if not hasattr(region_backend, "localcloud"):
        region_backend.localcloud = {
            "artifacts": {},
            "portfolio_products": {},
            "principals": {},
            "constraints": {},
        }
    return region_backend.localcloud


def template_url(parameters: dict[str, Any]) -> str:
    info = parameters.get("Info") or {}
    url = info.get("LoadTemplateFromURL") or info.get("TemplateUrl")
    if not url:
        raise AwsError(
            "InvalidParametersException",
            "ProvisioningArtifactParameters.Info needs LoadTemplateFromURL: the S3 URL of the template",
        )
    return url


def add_artifact(region_backend: ServiceCatalogBackend, product_id: str, parameters: dict[str, Any]) -> dict:
    artifact = {
        "Id": new_id("pa-"),
        "Name": parameters.get("Name") or "v1",
        "Description": parameters.get("Description", ""),
        "Type": parameters.get("Type") or "CLOUD_FORMATION_TEMPLATE",
        "CreatedTime": time.time(),
        "Active": True,
        "Guidance": "DEFAULT",
        "TemplateUrl": template_url(parameters),
    }
    extras(region_backend)["artifacts"].setdefault(product_id, []).append(artifact)
    return artifact


def artifacts(region_backend: ServiceCatalogBackend, product_id: str) -> list[dict]:
    return extras(region_backend)["artifacts"].get(product_id, [])


def product(region_backend: ServiceCatalogBackend, product_id: str | None, name: str | None = None):
    found = region_backend.products.get(product_id or "") if product_id else region_backend.lookup_by_name(name or "")
    if found is None:
        raise AwsError(
            "ResourceNotFoundException",
            f"Product {product_id or name!r} not found: list products with SearchProductsAsAdmin",
        )
    return found


def artifact(
    region_backend: ServiceCatalogBackend, product_id: str, artifact_id: str | None, name: str | None = None
) -> dict:
    known = artifacts(region_backend, product_id)
    for candidate in known:
        if (artifact_id and candidate["Id"] == artifact_id) or (not artifact_id and candidate["Name"] == name):
            return candidate
    names = ", ".join(f"{a['Id']} ({a['Name']})" for a in known) or "none"
    raise AwsError(
        "ResourceNotFoundException",
        f"Provisioning artifact {artifact_id or name!r} not found in product {product_id}; it has: {names}",
    )


def associate_product(region_backend, portfolio_id: str, product_id: str) -> None:
    linked = extras(region_backend)["portfolio_products"].setdefault(portfolio_id, [])
    if product_id not in linked:
        linked.append(product_id)


def disassociate_product(region_backend, portfolio_id: str, product_id: str) -> None:
    linked = extras(region_backend)["portfolio_products"].get(portfolio_id, [])
    if product_id in linked:
        linked.remove(product_id)


def portfolios_of(region_backend, product_id: str) -> list[str]:
    return [
        p
        for p, linked in extras(region_backend)["portfolio_products"].items()
        if product_id in linked and p in region_backend.portfolios
    ]


def _wrap_create_product(original):
    def create_product(self, *args, **kwargs):
        parameters = kwargs.get("provisioning_artifact_parameters")
        if parameters:
            template_url(parameters)  # refuse before moto records a product that cannot be provisioned
        created = original(self, *args, **kwargs)
        if parameters and not artifacts(self, created.id):
            add_artifact(self, created.id, parameters)
        return created

    return create_product


def _wrap_delete_product(original):
    def delete_product(self, accept_language, id):  # noqa: A002 - moto's signature
        original(self, accept_language, id)
        extras(self)["artifacts"].pop(id, None)
        for linked in extras(self)["portfolio_products"].values():
            if id in linked:
                linked.remove(id)

    return delete_product


def patch_backend() -> None:
    until = "moto keeping provisioning artifacts and portfolio associations of products"
    seam.patch(
        ServiceCatalogBackend,
        "create_product",
        wrap=_wrap_create_product,
        why="a product's provisioning artifact (its template URL) is checked and kept for provisioning",
        until=until,
    )
    seam.patch(
        ServiceCatalogBackend,
        "delete_product",
        wrap=_wrap_delete_product,
        why="deleting a product removes its artifacts and associations",
        until=until,
    )
