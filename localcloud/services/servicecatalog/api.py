"""Service Catalog calls that moto lacks (or answers without provisioning artifacts).

moto keeps CreatePortfolio, ListPortfolios, DescribePortfolio, DeleteProduct...; here are the
calls a SageMaker project and a Studio user need: products with their artifacts and launch paths,
associations, and the provisioned-product lifecycle (see ``provisioning``).
"""

from __future__ import annotations

from typing import Any

from localcloud import ACCOUNT_ID
from localcloud.core import durability
from localcloud.core.errors import AwsError
from localcloud.services.servicecatalog import catalog
from localcloud.services.servicecatalog.provisioning import ProvisioningService

TARGET = "AWS242ServiceCatalogService"


def _artifact_summary(artifact: dict[str, Any]) -> dict[str, Any]:
    keys = ("Id", "Name", "Description", "CreatedTime", "Type", "Active", "Guidance")
    return {k: artifact[k] for k in keys}


def _launch_paths(region_backend, product_id: str) -> list[dict[str, Any]]:
    return [
        {"Id": portfolio_id, "Name": region_backend.portfolios[portfolio_id].display_name}
        for portfolio_id in catalog.portfolios_of(region_backend, product_id)
    ]


def _product_view(region_backend, product) -> dict[str, Any]:
    summary = product.to_dict()
    summary["HasDefaultPath"] = len(catalog.portfolios_of(region_backend, product.id)) == 1
    return summary


class ServiceCatalogApi:
    def __init__(self, provisioning: ProvisioningService):
        self.provisioning = provisioning

    def create_product(self, call) -> dict[str, Any]:
        body = call.body
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        for field in ("Name", "Owner", "ProductType", "ProvisioningArtifactParameters"):
            if not body.get(field):
                raise AwsError("InvalidParametersException", f"{field} is required")
        created = region_backend.create_product(
            name=body["Name"],
            owner=body["Owner"],
            description=body.get("Description"),
            distributor=body.get("Distributor"),
            support_description=body.get("SupportDescription"),
            support_email=body.get("SupportEmail"),
            support_url=body.get("SupportUrl"),
            product_type=body["ProductType"],
            tags=body.get("Tags") or [],
            provisioning_artifact_parameters=body["ProvisioningArtifactParameters"],
            idempotency_token=body.get("IdempotencyToken"),
            accept_language=body.get("AcceptLanguage"),
        )
        artifact = catalog.artifacts(region_backend, created.id)[0]
        return {
            "ProductViewDetail": {
                "ProductViewSummary": _product_view(region_backend, created),
                "Status": "CREATED",
                "ProductARN": created.arn,
                "CreatedTime": created.created_time,
            },
            "ProvisioningArtifactDetail": _artifact_summary(artifact),
            "Tags": created.tags,
        }

    def describe_product(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        product = catalog.product(region_backend, call.body.get("Id"), call.body.get("Name"))
        artifacts = [_artifact_summary(a) for a in catalog.artifacts(region_backend, product.id) if a["Active"]]
        return {
            "ProductViewSummary": _product_view(region_backend, product),
            "ProvisioningArtifacts": artifacts,
            "Budgets": [],
            "LaunchPaths": _launch_paths(region_backend, product.id),
        }

    def describe_product_as_admin(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        product = catalog.product(region_backend, call.body.get("Id"), call.body.get("Name"))
        return {
            "ProductViewDetail": {
                "ProductViewSummary": _product_view(region_backend, product),
                "Status": "CREATED",
                "ProductARN": product.arn,
                "CreatedTime": product.created_time,
            },
            "ProvisioningArtifactSummaries": [
                _artifact_summary(a) for a in catalog.artifacts(region_backend, product.id)
            ],
            "Tags": product.tags,
            "TagOptions": [],
            "Budgets": [],
        }

    def describe_provisioning_artifact(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        product = catalog.product(region_backend, call.body.get("ProductId"), call.body.get("ProductName"))
        artifact = catalog.artifact(
            region_backend,
            product.id,
            call.body.get("ProvisioningArtifactId"),
            call.body.get("ProvisioningArtifactName"),
        )
        return {
            "ProvisioningArtifactDetail": _artifact_summary(artifact),
            "Info": {"TemplateUrl": artifact["TemplateUrl"]},
            "Status": "AVAILABLE",
        }

    def list_provisioning_artifacts(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        product = catalog.product(region_backend, call.body.get("ProductId"))
        return {
            "ProvisioningArtifactDetails": [_artifact_summary(a) for a in catalog.artifacts(region_backend, product.id)]
        }

    def search_products(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        words = [w.lower() for values in (call.body.get("Filters") or {}).values() for w in values]
        views = []
        for product in region_backend.products.values():
            if call.operation == "SearchProducts" and not catalog.portfolios_of(region_backend, product.id):
                continue  # end users only see products of a portfolio
            text = f"{product.name} {product.description or ''} {product.owner}".lower()
            if all(w in text for w in words):
                views.append(_product_view(region_backend, product))
        if call.operation == "SearchProductsAsAdmin":
            return {"ProductViewDetails": [{"ProductViewSummary": v, "Status": "CREATED"} for v in views]}
        return {"ProductViewSummaries": views}

    def list_launch_paths(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        product = catalog.product(region_backend, call.body.get("ProductId"))
        return {
            "LaunchPathSummaries": [
                {"Id": p["Id"], "Name": p["Name"], "ConstraintSummaries": [], "Tags": []}
                for p in _launch_paths(region_backend, product.id)
            ]
        }

    def associate_product_with_portfolio(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        portfolio_id = call.body.get("PortfolioId", "")
        if portfolio_id not in region_backend.portfolios:
            raise AwsError("ResourceNotFoundException", f"Portfolio {portfolio_id!r} not found")
        product = catalog.product(region_backend, call.body.get("ProductId"))
        catalog.associate_product(region_backend, portfolio_id, product.id)
        return {}

    def disassociate_product_from_portfolio(self, call) -> dict[str, Any]:
        catalog.disassociate_product(
            catalog.backend(ACCOUNT_ID, call.region),
            call.body.get("PortfolioId", ""),
            call.body.get("ProductId", ""),
        )
        return {}

    def list_portfolios_for_product(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        product = catalog.product(region_backend, call.body.get("ProductId"))
        return {
            "PortfolioDetails": [
                region_backend.portfolios[p].to_dict() for p in catalog.portfolios_of(region_backend, product.id)
            ]
        }

    def list_principals_for_portfolio(self, call) -> dict[str, Any]:
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        return {"Principals": catalog.extras(region_backend)["principals"].get(call.body.get("PortfolioId"), [])}

    def provision_product(self, call) -> dict[str, Any]:
        return {"RecordDetail": self.provisioning.provision(call.region, call.body)}

    def create_provisioning_artifact(self, call) -> dict[str, Any]:
        """A new version of a product: what a platform team publishes when the template changes."""
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        product = catalog.product(region_backend, call.body.get("ProductId"))
        parameters = call.body.get("Parameters") or {}
        names = [a["Name"] for a in catalog.artifacts(region_backend, product.id)]
        if parameters.get("Name") in names:
            raise AwsError(
                "DuplicateResourceException",
                f"Product {product.id} already has a provisioning artifact named {parameters['Name']!r}",
            )
        artifact = catalog.add_artifact(region_backend, product.id, parameters)
        return {
            "ProvisioningArtifactDetail": _artifact_summary(artifact),
            "Info": {"TemplateUrl": artifact["TemplateUrl"]},
            "Status": "AVAILABLE",
        }

    def update_provisioned_product(self, call) -> dict[str, Any]:
        return {"RecordDetail": self.provisioning.update(call.body)}

    def terminate_provisioned_product(self, call) -> dict[str, Any]:
        return {"RecordDetail": self.provisioning.terminate(call.body)}

    def describe_provisioned_product(self, call) -> dict[str, Any]:
        return self.provisioning.describe(call.body)

    def search_provisioned_products(self, call) -> dict[str, Any]:
        return self.provisioning.search(call.body)

    def scan_provisioned_products(self, call) -> dict[str, Any]:
        return {"ProvisionedProducts": self.provisioning.search({})["ProvisionedProducts"]}

    def describe_record(self, call) -> dict[str, Any]:
        return self.provisioning.describe_record(call.body)

    def register(self, cloud) -> None:
        operations = {
            "CreateProduct": self.create_product,
            "DescribeProduct": self.describe_product,
            "DescribeProductAsAdmin": self.describe_product_as_admin,
            "DescribeProvisioningArtifact": self.describe_provisioning_artifact,
            "ListProvisioningArtifacts": self.list_provisioning_artifacts,
            "CreateProvisioningArtifact": self.create_provisioning_artifact,
            "SearchProducts": self.search_products,
            "SearchProductsAsAdmin": self.search_products,
            "ListLaunchPaths": self.list_launch_paths,
            "AssociateProductWithPortfolio": self.associate_product_with_portfolio,
            "DisassociateProductFromPortfolio": self.disassociate_product_from_portfolio,
            "ListPortfoliosForProduct": self.list_portfolios_for_product,
            "ListPrincipalsForPortfolio": self.list_principals_for_portfolio,
            "ProvisionProduct": self.provision_product,
            "UpdateProvisionedProduct": self.update_provisioned_product,
            "TerminateProvisionedProduct": self.terminate_provisioned_product,
            "DescribeProvisionedProduct": self.describe_provisioned_product,
            "SearchProvisionedProducts": self.search_provisioned_products,
            "ScanProvisionedProducts": self.scan_provisioned_products,
            "DescribeRecord": self.describe_record,
        }
        for operation, handler in operations.items():
            cloud.gateway.json(TARGET, operation)(self._serialised(cloud, operation, handler))
        cloud.state.note_backend("servicecatalog")  # changed in-process: in every snapshot from now on

    @staticmethod
    def _serialised(cloud, operation: str, handler):
        """Our handlers change moto's servicecatalog backend in-process: one at a time, as moto's calls are
        (the gateway makes each change durable before its answer)."""
        if not durability.changes_state("POST", operation):
            return handler

        def serialised(call):
            with cloud.state.lock:
                return handler(call)

        return serialised
