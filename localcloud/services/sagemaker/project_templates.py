"""SageMaker's S3 project templates: ``CreateProject``/``UpdateProject`` with a CloudFormation template provider.

Since 2025 AWS recommends custom project templates as CloudFormation templates in S3, named in the
request (``TemplateProviders=[{"CfnTemplateProvider": {"TemplateName", "TemplateURL", "Parameters"}}]``)
instead of a Service Catalog product. Everything is checked before the request is answered, so a
refused request leaves nothing behind: the name and URL patterns, that the template can be read from
the local S3 and parsed, that every given parameter is one the template declares, and that every
parameter without a default is given. The project's stack is ``SageMaker-<project>-<project id>``,
created with ``SageMakerProjectName`` and ``SageMakerProjectId`` added to the parameters when the
template declares them (SageMaker sets them; a caller cannot).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from localcloud.core.errors import validation_error
from localcloud.core.moto_seam import safe_yaml
from localcloud.services.servicecatalog import templates

TEMPLATE_NAME = re.compile(r"^(?=.{1,32}$)[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
TEMPLATE_URL = re.compile(r"^(?=.{1,1024}$)(https)://([^/]+)/(.+)$")
ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
PROJECT_PARAMETERS = ("SageMakerProjectName", "SageMakerProjectId")


@dataclass
class TemplateProvider:
    """One checked ``CfnTemplateProvider``: where its template is and the parameters to give it."""

    name: str
    url: str
    parameters: list[dict[str, str]] = field(default_factory=list)
    role_arn: str = ""

    def as_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"TemplateName": self.name, "TemplateURL": self.url, "Parameters": self.parameters}
        if self.role_arn:
            detail["RoleARN"] = self.role_arn
        return detail

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> TemplateProvider:
        return cls(
            detail["TemplateName"], detail["TemplateURL"], detail.get("Parameters") or [], detail.get("RoleARN", "")
        )


def stack_name(project_name: str, project_id: str) -> str:
    return f"SageMaker-{project_name}-{project_id}"


def declared_parameters(body: str, url: str) -> dict[str, dict[str, Any]]:
    """The template's ``Parameters`` section; a template that does not parse is refused naming the URL."""
    try:
        template = json.loads(body) if body.lstrip().startswith("{") else safe_yaml.parse(body)
    except Exception as error:
        raise validation_error(f"The template at {url} is neither JSON nor YAML CloudFormation: {error}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise validation_error(f"The template at {url} has no Resources section: is it a CloudFormation template?")
    parameters = template.get("Parameters") or {}
    return parameters if isinstance(parameters, dict) else {}


def checked(s3, providers: Any, field_name: str, required: frozenset[str] = frozenset()) -> TemplateProvider:
    """The one provider of ``TemplateProviders`` (or ``TemplateProvidersToUpdate``), checked against its template.

    ``required`` names parameters given earlier that count as given (an update keeps them)."""
    if not isinstance(providers, list) or len(providers) != 1:
        raise validation_error(f"{field_name} must hold exactly one template provider (SageMaker takes one)")
    provider = providers[0].get("CfnTemplateProvider") if isinstance(providers[0], dict) else None
    if not isinstance(provider, dict):
        raise validation_error(
            f"{field_name}[0].CfnTemplateProvider is required: TemplateName, TemplateURL, Parameters"
        )
    name, url = provider.get("TemplateName") or "", provider.get("TemplateURL") or ""
    if not TEMPLATE_NAME.match(name):
        raise validation_error(
            f"{field_name}[0].CfnTemplateProvider.TemplateName {name!r} must match {TEMPLATE_NAME.pattern} "
            "(1 to 32 letters, digits and single hyphens)"
        )
    if not TEMPLATE_URL.match(url):
        raise validation_error(
            f"{field_name}[0].CfnTemplateProvider.TemplateURL {url!r} must be an https URL of the template's S3 "
            "object (https://<bucket>.s3.<region>.amazonaws.com/<key>)"
        )
    role = provider.get("RoleARN") or ""
    if role and not ROLE_ARN.match(role):
        raise validation_error(f"{field_name}[0].CfnTemplateProvider.RoleARN {role!r} is not an IAM role ARN")
    try:
        body = templates.fetch(s3, url)
    except Exception as error:
        message = getattr(error, "message", str(error)).replace(
            "publish the template (python -m localcloud.tools.publish)", "upload the template"
        )
        raise validation_error(f"Cannot read the template of {name!r} at {url}: {message}") from None
    declared = declared_parameters(body, url)
    given = provider.get("Parameters") or []
    keys = [p.get("Key") for p in given if isinstance(p, dict)]
    if len(keys) != len(given) or not all(keys):
        raise validation_error(f"{field_name}[0].CfnTemplateProvider.Parameters must be a list of {{Key, Value}}")
    reserved = sorted(set(keys) & set(PROJECT_PARAMETERS))
    if reserved:
        raise validation_error(f"Parameters {reserved} are set by SageMaker for every project; leave them out")
    unknown = sorted(set(keys) - set(declared))
    if unknown:
        raise validation_error(
            f"The template at {url} declares no parameter {', '.join(unknown)}; "
            f"it declares: {', '.join(sorted(set(declared) - set(PROJECT_PARAMETERS))) or 'none'}"
        )
    missing = sorted(
        key
        for key, spec in declared.items()
        if key not in PROJECT_PARAMETERS
        and isinstance(spec, dict)
        and "Default" not in spec
        and key not in keys
        and key not in required
    )
    if missing:
        raise validation_error(f"The template at {url} needs a value for {', '.join(missing)} (no default)")
    parameters = [{"Key": p["Key"], "Value": str(p.get("Value", ""))} for p in given]
    return TemplateProvider(name, url, parameters, role)


def stack_parameters(
    provider: TemplateProvider, declared: dict[str, Any], project_name: str, project_id: str
) -> list[dict[str, str]]:
    """CreateStack's (UpdateStack's) parameters: the provider's that the template declares (an update keeps
    earlier values, which a new template may no longer take), plus the project's name and id where it takes them."""
    given = [
        {"ParameterKey": p["Key"], "ParameterValue": p["Value"]} for p in provider.parameters if p["Key"] in declared
    ]
    project = {"SageMakerProjectName": project_name, "SageMakerProjectId": project_id}
    return given + [{"ParameterKey": k, "ParameterValue": v} for k, v in project.items() if k in declared]
