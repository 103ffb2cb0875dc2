"""Service Catalog resource types for moto's CloudFormation, so the portfolio stack deploys as is.

Portfolio, CloudFormationProduct, PortfolioProductAssociation, PortfolioPrincipalAssociation and
LaunchRoleConstraint, created through moto's backend (plus ``catalog``'s records). An update
replaces the resource, which is what publishing a changed template needs.

moto finds models as direct subclasses of ``CloudFormationModel``; they keep this module as their
``__module__`` so that stacks holding them pickle and unpickle (the state folder) by this path.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel

from localcloud.services.servicecatalog import catalog


class _Replaced:
    """Shared CloudFormation plumbing: update = delete the old resource, create the new one."""

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return getattr(self, self.ATTRIBUTES[attribute_name])


class Portfolio(_Replaced, CloudFormationModel):
    ATTRIBUTES = {"PortfolioName": "display_name"}

    def __init__(self, portfolio_id: str, display_name: str):
        self.portfolio_id = portfolio_id
        self.display_name = display_name

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceCatalog::Portfolio"

    @property
    def physical_resource_id(self) -> str:
        return self.portfolio_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        detail, _ = catalog.backend(account_id, region_name).create_portfolio(
            accept_language=props.get("AcceptLanguage"),
            display_name=props["DisplayName"],
            description=props.get("Description"),
            provider_name=props["ProviderName"],
            tags=props.get("Tags"),
            idempotency_token=None,
        )
        return cls(detail["Id"], props["DisplayName"])

    def delete(self, account_id: str, region_name: str) -> None:
        region_backend = catalog.backend(account_id, region_name)
        region_backend.delete_portfolio(None, self.portfolio_id)
        catalog.extras(region_backend)["portfolio_products"].pop(self.portfolio_id, None)
        catalog.extras(region_backend)["principals"].pop(self.portfolio_id, None)


class CloudFormationProduct(_Replaced, CloudFormationModel):
    ATTRIBUTES = {
        "ProductName": "name",
        "ProvisioningArtifactIds": "artifact_ids",
        "ProvisioningArtifactNames": "artifact_names",
    }

    def __init__(self, product_id: str, name: str, artifacts: list[dict]):
        self.product_id = product_id
        self.name = name
        self.artifact_ids = ",".join(a["Id"] for a in artifacts)
        self.artifact_names = ",".join(a["Name"] for a in artifacts)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceCatalog::CloudFormationProduct"

    @property
    def physical_resource_id(self) -> str:
        return self.product_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        artifact_parameters = props.get("ProvisioningArtifactParameters") or []
        region_backend = catalog.backend(account_id, region_name)
        created = region_backend.create_product(
            name=props["Name"],
            owner=props["Owner"],
            description=props.get("Description"),
            distributor=props.get("Distributor"),
            support_description=props.get("SupportDescription"),
            support_email=props.get("SupportEmail"),
            support_url=props.get("SupportUrl"),
            product_type=props.get("ProductType") or "CLOUD_FORMATION_TEMPLATE",
            tags=props.get("Tags") or [],
            provisioning_artifact_parameters=artifact_parameters[0] if artifact_parameters else None,
            accept_language=props.get("AcceptLanguage"),
        )
        for more in artifact_parameters[1:]:
            catalog.add_artifact(region_backend, created.id, more)
        return cls(created.id, created.name, catalog.artifacts(region_backend, created.id))

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        """In place, as Service Catalog does: a provisioning artifact whose template is new is added to the same
        product (a platform team republishing a version), so projects made from the product can move to it."""
        region_backend = catalog.backend(account_id, region_name)
        product_id = original_resource.product_id
        known = {a["TemplateUrl"] for a in catalog.artifacts(region_backend, product_id)}
        for parameters in cloudformation_json["Properties"].get("ProvisioningArtifactParameters") or []:
            if catalog.template_url(parameters) not in known:
                catalog.add_artifact(region_backend, product_id, parameters)
        name = cloudformation_json["Properties"].get("Name") or original_resource.name
        return cls(product_id, name, catalog.artifacts(region_backend, product_id))

    def delete(self, account_id: str, region_name: str) -> None:
        catalog.backend(account_id, region_name).delete_product(None, self.product_id)


class PortfolioProductAssociation(_Replaced, CloudFormationModel):
    ATTRIBUTES: dict[str, str] = {}

    def __init__(self, portfolio_id: str, product_id: str):
        self.portfolio_id = portfolio_id
        self.product_id = product_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceCatalog::PortfolioProductAssociation"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.portfolio_id}|{self.product_id}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        catalog.associate_product(catalog.backend(account_id, region_name), props["PortfolioId"], props["ProductId"])
        return cls(props["PortfolioId"], props["ProductId"])

    def delete(self, account_id: str, region_name: str) -> None:
        catalog.disassociate_product(catalog.backend(account_id, region_name), self.portfolio_id, self.product_id)


class PortfolioPrincipalAssociation(_Replaced, CloudFormationModel):
    ATTRIBUTES: dict[str, str] = {}

    def __init__(self, portfolio_id: str, principal_arn: str, principal_type: str):
        self.portfolio_id = portfolio_id
        self.principal = {"PrincipalARN": principal_arn, "PrincipalType": principal_type}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceCatalog::PortfolioPrincipalAssociation"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.portfolio_id}|{self.principal['PrincipalARN']}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        made = cls(props["PortfolioId"], props["PrincipalARN"], props.get("PrincipalType", "IAM"))
        principals = catalog.extras(catalog.backend(account_id, region_name))["principals"]
        linked = principals.setdefault(made.portfolio_id, [])
        if made.principal not in linked:
            linked.append(made.principal)
        return made

    def delete(self, account_id: str, region_name: str) -> None:
        linked = catalog.extras(catalog.backend(account_id, region_name))["principals"].get(self.portfolio_id, [])
        if self.principal in linked:
            linked.remove(self.principal)


class LaunchRoleConstraint(_Replaced, CloudFormationModel):
    ATTRIBUTES: dict[str, str] = {}

    def __init__(self, constraint: dict[str, str]):
        self.constraint = constraint

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ServiceCatalog::LaunchRoleConstraint"

    @property
    def physical_resource_id(self) -> str:
        return self.constraint["ConstraintId"]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        constraint = {
            "ConstraintId": catalog.new_id("cons-"),
            "Type": "LAUNCH",
            "Owner": account_id,
            "PortfolioId": props["PortfolioId"],
            "ProductId": props["ProductId"],
            "RoleArn": props.get("RoleArn") or props.get("LocalRoleName", ""),
            "Description": props.get("Description", ""),
        }
        catalog.extras(catalog.backend(account_id, region_name))["constraints"][constraint["ConstraintId"]] = constraint
        return cls(constraint)

    def delete(self, account_id: str, region_name: str) -> None:
        catalog.extras(catalog.backend(account_id, region_name))["constraints"].pop(
            self.constraint["ConstraintId"], None
        )
