"""SageMaker projects, both ways SageMaker makes them: from a Service Catalog product, or an S3 template.

``CreateProject`` with ``ServiceCatalogProvisioningDetails`` provisions the product through the local
Service Catalog (a CloudFormation stack ``SC-<account>-pp-<id>``), as Studio does; with
``TemplateProviders`` it creates the stack ``SageMaker-<project>-<id>`` from the CloudFormation
template at the S3 URL (``project_templates.py``). Either way ``SageMakerProjectName`` and
``SageMakerProjectId`` are added to the parameters, everything is validated up front (name,
uniqueness, product and artifact, or the template and its parameters), so a refused request leaves
nothing behind, and the project follows its stack in a background thread: Pending ->
CreateInProgress -> CreateCompleted | CreateFailed (with the stack's reason).

``UpdateProject`` moves a project to a new template version (a new provisioning artifact, or a new
template at an S3 URL) and parameters: an UpdateStack of the project's stack, UpdateInProgress ->
UpdateCompleted | UpdateFailed, where a failed update leaves the stack rolled back to the old template
and the project on it. ``DeleteProject`` deletes the stack (whose cleanup custom resource empties what
the project made) and the project disappears once that is done. Records are JSON files in the state
folder and resume after a restart.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from localcloud import ACCOUNT_ID
from localcloud.core.errors import AwsError, validation_error
from localcloud.services.sagemaker import project_templates
from localcloud.services.sagemaker.project_templates import TemplateProvider
from localcloud.services.servicecatalog import catalog, provisioning_service, templates
from localcloud.services.servicecatalog.stacks import CAPABILITIES, StackFailed, Stacks

log = logging.getLogger("localcloud.services.sagemaker.projects")
FOLDER = "sagemaker/projects"
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$"
ID_ALPHABET = string.ascii_lowercase + string.digits
POLL_SECONDS = (0.05, 1.0)
SUMMARY_KEYS = (
    "ProjectName",
    "ProjectDescription",
    "ProjectArn",
    "ProjectId",
    "CreationTime",
    "ProjectStatus",
)


def new_project_id() -> str:
    return "p-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(12))


class ProjectsService:
    def __init__(self, cloud):
        self.cloud = cloud
        self.lock = threading.RLock()
        self.threads: list[threading.Thread] = []
        self.stacks = Stacks(cloud)

    # records -------------------------------------------------------------------------------------
    def _path(self, name: str):
        return self.cloud.state.root / FOLDER / f"{name}.json"

    def _load(self, name: str) -> dict[str, Any] | None:
        path = self._path(name)
        return self.cloud.state.read_json(f"{FOLDER}/{name}.json") if path.exists() else None

    def _save(self, record: dict[str, Any]) -> None:
        record["LastModifiedTime"] = time.time()
        self.cloud.state.write_json(f"{FOLDER}/{record['ProjectName']}.json", record)

    def _change(self, name: str, **changes: Any) -> dict[str, Any] | None:
        with self.lock:
            record = self._load(name)
            if record is None:
                return None
            record.update(changes)
            self._save(record)
            return record

    def _existing(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("ProjectName") or ""
        record = self._load(name) if re.match(NAME_PATTERN, name) else None
        if record is None:
            raise validation_error(f"Project {name} does not exist.")
        return record

    # API -------------------------------------------------------------------------------------------
    def create(self, call) -> dict[str, Any]:
        body = call.body
        name = body.get("ProjectName") or ""
        if not re.match(NAME_PATTERN, name):
            raise validation_error(
                f"1 validation error detected: Value '{name}' at 'projectName' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
            )
        details = body.get("ServiceCatalogProvisioningDetails") or {}
        providers = body.get("TemplateProviders")
        if details and providers:
            raise validation_error(
                "Give either ServiceCatalogProvisioningDetails (a Service Catalog product) or TemplateProviders "
                "(a CloudFormation template in S3), not both"
            )
        route: dict[str, Any]
        if providers is not None:
            provider = project_templates.checked(self.cloud.client("s3", call.region), providers, "TemplateProviders")
            route = {"TemplateProviderDetails": [{"CfnTemplateProviderDetail": provider.as_detail()}]}
        else:
            route = self._checked_product(details, call.region)
        with self.lock:
            if self._path(name).exists():
                raise validation_error(f"Project {name} already exists.")
            project_id = new_project_id()
            now = time.time()
            record = {
                "ProjectArn": f"arn:aws:sagemaker:{call.region}:{ACCOUNT_ID}:project/{name.lower()}",
                "ProjectName": name,
                "ProjectId": project_id,
                "ProjectDescription": body.get("ProjectDescription", ""),
                **route,
                "ProjectStatus": "Pending",
                "Region": call.region,
                "CreatedBy": {"UserProfileName": "localcloud"},
                "CreationTime": now,
                "Tags": body.get("Tags") or [],
            }
            self._save(record)
        self._start(self._provision, name)
        return {"ProjectArn": record["ProjectArn"], "ProjectId": project_id}

    def _checked_product(self, details: dict[str, Any], region: str) -> dict[str, Any]:
        product_id = details.get("ProductId")
        if not product_id:
            raise validation_error(
                "ServiceCatalogProvisioningDetails.ProductId is required: the Service Catalog product of the "
                "project template (SearchProducts lists them); or give TemplateProviders for an S3 template"
            )
        region_backend = catalog.backend(ACCOUNT_ID, region)
        try:
            product = catalog.product(region_backend, product_id)
            artifact_id = details.get("ProvisioningArtifactId") or self._default_artifact(region_backend, product.id)
            catalog.artifact(region_backend, product.id, artifact_id)
        except AwsError as error:
            raise validation_error(f"Cannot provision product {product_id!r}: {error.message}") from error
        return {
            "ServiceCatalogProvisioningDetails": {**details, "ProvisioningArtifactId": artifact_id},
            "ServiceCatalogProvisionedProductDetails": {},
        }

    @staticmethod
    def _default_artifact(region_backend, product_id: str) -> str:
        active = [a for a in catalog.artifacts(region_backend, product_id) if a["Active"]]
        if not active:
            raise AwsError("ResourceNotFoundException", f"product {product_id} has no active provisioning artifact")
        return active[-1]["Id"]

    def describe(self, call) -> dict[str, Any]:
        record = self._existing(call.body)
        keys = SUMMARY_KEYS + (
            "ServiceCatalogProvisioningDetails",
            "ServiceCatalogProvisionedProductDetails",
            "TemplateProviderDetails",
            "CreatedBy",
            "LastModifiedTime",
        )
        described = {k: record[k] for k in keys if record.get(k) not in (None, "", {})}
        if record["ProjectStatus"].endswith("Failed") and record.get("FailureReason") and _is_product(record):
            described["ServiceCatalogProvisionedProductDetails"] = {
                **record.get("ServiceCatalogProvisionedProductDetails", {}),
                "ProvisionedProductStatusMessage": record["FailureReason"],
            }
        return described

    def list(self, call) -> dict[str, Any]:
        body = call.body
        records = self.cloud.state.list_json(FOLDER)
        if body.get("NameContains"):
            records = [r for r in records if body["NameContains"] in r["ProjectName"]]
        if body.get("CreationTimeAfter"):
            records = [r for r in records if r["CreationTime"] > float(body["CreationTimeAfter"])]
        if body.get("CreationTimeBefore"):
            records = [r for r in records if r["CreationTime"] < float(body["CreationTimeBefore"])]
        key = "ProjectName" if body.get("SortBy") == "Name" else "CreationTime"
        records.sort(key=lambda r: r[key], reverse=body.get("SortOrder", "Descending") == "Descending")
        return {
            "ProjectSummaryList": [
                {k: r[k] for k in SUMMARY_KEYS if r.get(k) not in (None, "")}
                for r in records[: int(body.get("MaxResults", 100))]
            ]
        }

    def delete(self, call) -> dict[str, Any]:
        with self.lock:
            record = self._existing(call.body)
            status = record["ProjectStatus"]
            if status in ("Pending", "CreateInProgress", "UpdateInProgress"):
                raise validation_error(
                    f"Project {record['ProjectName']} is {status}: delete it once it has "
                    "finished (DescribeProject shows its status)"
                )
            if status != "DeleteInProgress":
                self._change(record["ProjectName"], ProjectStatus="DeleteInProgress")
        self._start(self._terminate, record["ProjectName"])
        return {}

    def update(self, call) -> dict[str, Any]:
        body = call.body
        with self.lock:
            record = self._existing(body)
            status = record["ProjectStatus"]
            if status not in ("CreateCompleted", "UpdateCompleted", "UpdateFailed"):
                raise validation_error(
                    f"Project {record['ProjectName']} is {status}: only a project whose creation or last update "
                    "has finished can be updated (DescribeProject shows its status)"
                )
            sc_update = body.get("ServiceCatalogProvisioningUpdateDetails")
            tp_update = body.get("TemplateProvidersToUpdate")
            if sc_update and not _is_product(record):
                raise validation_error(
                    f"Project {record['ProjectName']} was made from an S3 template: update it with "
                    "TemplateProvidersToUpdate, not ServiceCatalogProvisioningUpdateDetails"
                )
            if tp_update and _is_product(record):
                raise validation_error(
                    f"Project {record['ProjectName']} was made from a Service Catalog product: update it with "
                    "ServiceCatalogProvisioningUpdateDetails, not TemplateProvidersToUpdate"
                )
            changes: dict[str, Any] = {}
            if "ProjectDescription" in body:
                changes["ProjectDescription"] = body["ProjectDescription"]
            if body.get("Tags"):
                given = {t["Key"]: t for t in body["Tags"]}
                changes["Tags"] = [t for t in record["Tags"] if t["Key"] not in given] + list(given.values())
            if sc_update:
                changes["PendingUpdate"] = self._checked_product_update(record, sc_update, call.region)
            elif tp_update:
                changes["PendingUpdate"] = self._checked_template_update(record, tp_update, call.region)
            if "PendingUpdate" in changes:
                changes.update(ProjectStatus="UpdateInProgress", FailureReason="")
            self._change(record["ProjectName"], **changes)
        if "PendingUpdate" in changes:
            self._start(self._apply_update, record["ProjectName"])
        return {"ProjectArn": record["ProjectArn"]}

    @staticmethod
    def _checked_product_update(record: dict[str, Any], update: dict[str, Any], region: str) -> dict[str, Any]:
        details = record["ServiceCatalogProvisioningDetails"]
        artifact_id = update.get("ProvisioningArtifactId") or details["ProvisioningArtifactId"]
        try:
            catalog.artifact(catalog.backend(ACCOUNT_ID, region), details["ProductId"], artifact_id)
        except AwsError as error:
            raise validation_error(
                f"Cannot update to provisioning artifact {artifact_id!r} of product {details['ProductId']!r}: "
                f"{error.message} (ListProvisioningArtifacts lists them)"
            ) from error
        given = {p["Key"]: p for p in update.get("ProvisioningParameters") or []}
        kept = [p for p in details.get("ProvisioningParameters") or [] if p["Key"] not in given]
        return {"ProvisioningArtifactId": artifact_id, "ProvisioningParameters": kept + list(given.values())}

    def _checked_template_update(self, record: dict[str, Any], providers: Any, region: str) -> dict[str, Any]:
        current = TemplateProvider.from_detail(record["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"])
        previous = {p["Key"]: p for p in current.parameters}
        provider = project_templates.checked(
            self.cloud.client("s3", region), providers, "TemplateProvidersToUpdate", frozenset(previous)
        )
        if provider.name != current.name:
            raise validation_error(
                f"TemplateProvidersToUpdate names template {provider.name!r}; project {record['ProjectName']} "
                f"was made from template {current.name!r} (TemplateName identifies it and cannot change)"
            )
        given = {p["Key"] for p in provider.parameters}
        provider.parameters = [p for k, p in previous.items() if k not in given] + provider.parameters
        provider.role_arn = current.role_arn
        return provider.as_detail()

    # work ------------------------------------------------------------------------------------------
    def _start(self, work, name: str) -> None:
        thread = threading.Thread(target=self._guarded, args=(work, name), name=f"project-{name}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def _guarded(self, work, name: str) -> None:
        try:
            work(name)
        except Exception as error:
            log.exception("project %s", name)
            record = self._load(name)
            status = record["ProjectStatus"] if record else ""
            failed = {"Delete": "DeleteFailed", "Update": "UpdateFailed"}.get(status[:6], "CreateFailed")
            self._change(name, ProjectStatus=failed, FailureReason=f"local cloud error: {error!r}")

    def _provision(self, name: str) -> None:
        record = self._change(name, ProjectStatus="CreateInProgress")
        if record is None:
            return
        if not _is_product(record):
            return self._create_stack(name, record)
        service = provisioning_service()
        pp_id = record["ServiceCatalogProvisionedProductDetails"].get("ProvisionedProductId")
        if not pp_id:
            details = record["ServiceCatalogProvisioningDetails"]
            given = [
                p
                for p in details.get("ProvisioningParameters") or []
                if p.get("Key") not in ("SageMakerProjectName", "SageMakerProjectId")
            ]
            tags = _project_tags(record)
            try:
                detail = service.provision(
                    record["Region"],
                    {
                        "ProductId": details["ProductId"],
                        "ProvisioningArtifactId": details["ProvisioningArtifactId"],
                        "PathId": details.get("PathId"),
                        "ProvisionedProductName": f"SageMaker-{name}-{record['ProjectId']}",
                        "ProvisioningParameters": given
                        + [
                            {"Key": "SageMakerProjectName", "Value": name},
                            {"Key": "SageMakerProjectId", "Value": record["ProjectId"]},
                        ],
                        "Tags": tags,
                    },
                )
            except AwsError as error:
                self._change(name, ProjectStatus="CreateFailed", FailureReason=error.message)
                return
            pp_id = detail["ProvisionedProductId"]
            self._change(name, ServiceCatalogProvisionedProductDetails={"ProvisionedProductId": pp_id})
        provisioned = self._follow(pp_id)
        if provisioned is None:
            self._change(name, ProjectStatus="CreateFailed", FailureReason=f"provisioned product {pp_id} vanished")
        elif provisioned["Status"] == "AVAILABLE":
            self._change(
                name,
                ProjectStatus="CreateCompleted",
                ServiceCatalogProvisionedProductDetails={
                    "ProvisionedProductId": pp_id,
                    "ProvisionedProductStatusMessage": "AVAILABLE",
                },
            )
        elif provisioned["Status"] != "UNDER_CHANGE":
            self._change(
                name,
                ProjectStatus="CreateFailed",
                FailureReason=provisioned.get("StatusMessage")
                or f"provisioned product {pp_id} is {provisioned['Status']}",
            )

    def _terminate(self, name: str) -> None:
        record = self._load(name)
        if record is None:
            return
        if not _is_product(record):
            return self._delete_stack(name, record)
        service = provisioning_service()
        pp_id = record["ServiceCatalogProvisionedProductDetails"].get("ProvisionedProductId")
        if pp_id:
            try:
                current = service.find(pp_id)
            except AwsError:
                current = None
            if current is not None:
                already = (
                    current["Status"] == "UNDER_CHANGE"
                    and current["Records"][-1]["RecordType"] == "TERMINATE_PROVISIONED_PRODUCT"
                )
                if not already:
                    service.terminate({"ProvisionedProductId": pp_id})
                remaining = self._follow(pp_id)
                if remaining is not None and remaining["Status"] != "UNDER_CHANGE":
                    self._change(
                        name,
                        ProjectStatus="DeleteFailed",
                        FailureReason=remaining.get("StatusMessage")
                        or f"provisioned product {pp_id} is {remaining['Status']}",
                    )
                    return
                if remaining is not None:
                    return  # the local cloud is stopping: resumed on the next start
        with self.lock:
            self._path(name).unlink(missing_ok=True)

    # updates ---------------------------------------------------------------------------------------
    def _apply_update(self, name: str) -> None:
        record = self._load(name)
        if record is None or record["ProjectStatus"] != "UpdateInProgress" or not record.get("PendingUpdate"):
            return
        if _is_product(record):
            self._update_product(name, record)
        else:
            self._update_stack(name, record)

    def _update_failed(self, name: str, reason: str) -> None:
        """The project stays on the template it had: its stack rolled back (or was never changed)."""
        self._change(name, ProjectStatus="UpdateFailed", FailureReason=reason, PendingUpdate=None, UpdateStarted=None)

    def _update_product(self, name: str, record: dict[str, Any]) -> None:
        service = provisioning_service()
        pending = record["PendingUpdate"]
        pp_id = record["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
        if not record.get("UpdateStarted"):
            try:
                service.update(
                    {
                        "ProvisionedProductId": pp_id,
                        "ProvisioningArtifactId": pending["ProvisioningArtifactId"],
                        "ProvisioningParameters": pending["ProvisioningParameters"]
                        + [
                            {"Key": "SageMakerProjectName", "Value": name},
                            {"Key": "SageMakerProjectId", "Value": record["ProjectId"]},
                        ],
                    }
                )
            except AwsError as error:
                return self._update_failed(name, error.message)
            self._change(name, UpdateStarted=time.time())
        provisioned = self._follow(pp_id)
        if provisioned is None:
            return self._update_failed(name, f"provisioned product {pp_id} vanished")
        if provisioned["Status"] == "UNDER_CHANGE":
            return  # the local cloud is stopping: resumed on the next start
        if provisioned["Status"] != "AVAILABLE":
            return self._update_failed(
                name, provisioned.get("StatusMessage") or f"provisioned product {pp_id} is {provisioned['Status']}"
            )
        details = {**record["ServiceCatalogProvisioningDetails"], **pending}
        self._change(
            name,
            ProjectStatus="UpdateCompleted",
            ServiceCatalogProvisioningDetails=details,
            PendingUpdate=None,
            UpdateStarted=None,
        )

    def _update_stack(self, name: str, record: dict[str, Any]) -> None:
        provider = TemplateProvider.from_detail(record["PendingUpdate"])
        cloudformation = self.stacks.client(record["Region"])
        stack_name = project_templates.stack_name(name, record["ProjectId"])
        since = record.get("UpdateStarted")
        if not since:
            since = time.time()
            try:
                request = self._stack_request(record, provider)
                cloudformation.update_stack(**request, Tags=_project_tags(record))
            except (AwsError, ClientError) as error:
                message = error.message if isinstance(error, AwsError) else error.response["Error"]["Message"]
                if "No updates are to be performed" not in message:
                    return self._update_failed(name, f"CloudFormation: {message}")
            else:
                self._change(name, UpdateStarted=since)
                self._set_stack(name, StatusMessage="UPDATE_IN_PROGRESS")
        try:
            self.stacks.wait(cloudformation, stack_name, "UPDATE_COMPLETE", since=since)
        except StackFailed as failure:
            if self.cloud.stopping.is_set():
                return  # resumed on the next start
            stack = self.stacks.find(cloudformation, stack_name) or {}
            self._set_stack(name, StatusMessage=f"{stack.get('StackStatus', 'UPDATE_FAILED')}: {failure}")
            return self._update_failed(name, str(failure))
        with self.lock:
            current = self._load(name)
            if current is None:
                return
            stack_detail = current["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"].get("StackDetail", {})
            current["TemplateProviderDetails"] = [
                {
                    "CfnTemplateProviderDetail": {
                        **provider.as_detail(),
                        "StackDetail": {**stack_detail, "StatusMessage": "UPDATE_COMPLETE"},
                    }
                }
            ]
            current.update(ProjectStatus="UpdateCompleted", FailureReason="", PendingUpdate=None, UpdateStarted=None)
            self._save(current)

    # S3 templates -----------------------------------------------------------------------------------
    def _set_stack(self, name: str, **stack: str) -> dict[str, Any] | None:
        with self.lock:
            record = self._load(name)
            if record is None:
                return None
            detail = record["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
            detail["StackDetail"] = {**detail.get("StackDetail", {}), **stack}
            self._save(record)
            return record

    def _stack_request(self, record: dict[str, Any], provider: TemplateProvider) -> dict[str, Any]:
        body = templates.fetch(self.cloud.client("s3", record["Region"]), provider.url)
        declared = project_templates.declared_parameters(body, provider.url)
        request = {
            "StackName": project_templates.stack_name(record["ProjectName"], record["ProjectId"]),
            "TemplateBody": body,
            "Capabilities": CAPABILITIES,
            "Parameters": project_templates.stack_parameters(
                provider, declared, record["ProjectName"], record["ProjectId"]
            ),
        }
        if provider.role_arn:
            request["RoleARN"] = provider.role_arn
        return request

    def _create_stack(self, name: str, record: dict[str, Any]) -> None:
        provider = TemplateProvider.from_detail(record["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"])
        cloudformation = self.stacks.client(record["Region"])
        stack_name = project_templates.stack_name(name, record["ProjectId"])
        if self.stacks.find(cloudformation, stack_name) is None:
            try:
                request = self._stack_request(record, provider)
                stack_id = cloudformation.create_stack(**request, Tags=_project_tags(record))["StackId"]
            except (AwsError, ClientError) as error:
                message = error.message if isinstance(error, AwsError) else error.response["Error"]["Message"]
                self.stacks.roll_back(cloudformation, stack_name)
                self._set_stack(name, Name=stack_name, StatusMessage=message)
                self._change(name, ProjectStatus="CreateFailed", FailureReason=f"CloudFormation: {message}")
                return
            self._set_stack(name, Name=stack_name, Id=stack_id, StatusMessage="CREATE_IN_PROGRESS")
        try:
            self.stacks.wait(cloudformation, stack_name, "CREATE_COMPLETE")
        except StackFailed as failure:
            if self.cloud.stopping.is_set():
                return  # resumed on the next start
            self.stacks.roll_back(cloudformation, stack_name)
            self._set_stack(name, StatusMessage=str(failure))
            self._change(name, ProjectStatus="CreateFailed", FailureReason=str(failure))
            return
        self._set_stack(name, StatusMessage="CREATE_COMPLETE")
        self._change(name, ProjectStatus="CreateCompleted", FailureReason="")

    def _delete_stack(self, name: str, record: dict[str, Any]) -> None:
        cloudformation = self.stacks.client(record["Region"])
        stack_name = project_templates.stack_name(name, record["ProjectId"])
        try:
            self.stacks.delete(cloudformation, stack_name)
        except (StackFailed, ClientError) as failure:
            if self.cloud.stopping.is_set():
                return  # resumed on the next start
            reason = failure.response["Error"]["Message"] if isinstance(failure, ClientError) else str(failure)
            self._set_stack(name, StatusMessage=f"DELETE_FAILED: {reason}")
            self._change(name, ProjectStatus="DeleteFailed", FailureReason=reason)
            return
        with self.lock:
            self._path(name).unlink(missing_ok=True)

    def _follow(self, pp_id: str) -> dict[str, Any] | None:
        """Wait until the provisioned product stops changing; None once it is gone (terminated)."""
        service = provisioning_service()
        delay = POLL_SECONDS[0]
        while True:
            try:
                provisioned = service.find(pp_id)
            except AwsError:
                return None
            if provisioned["Status"] != "UNDER_CHANGE" or self.cloud.stopping.is_set():
                return provisioned
            time.sleep(delay)
            delay = min(delay * 2, POLL_SECONDS[1])

    # lifecycle -------------------------------------------------------------------------------------
    def resume(self) -> None:
        for record in self.cloud.state.list_json(FOLDER):
            if record["ProjectStatus"] in ("Pending", "CreateInProgress"):
                self._start(self._provision, record["ProjectName"])
            elif record["ProjectStatus"] == "UpdateInProgress":
                self._start(self._apply_update, record["ProjectName"])
            elif record["ProjectStatus"] == "DeleteInProgress":
                self._start(self._terminate, record["ProjectName"])

    def shutdown(self) -> None:
        for thread in self.threads:
            thread.join(timeout=2)


def _is_product(record: dict[str, Any]) -> bool:
    """Made from a Service Catalog product (else from an S3 template)."""
    return "TemplateProviderDetails" not in record


def _project_tags(record: dict[str, Any]) -> list[dict[str, str]]:
    return [t for t in record["Tags"] if not t["Key"].startswith("aws:")] + [
        {"Key": "sagemaker:project-name", "Value": record["ProjectName"]},
        {"Key": "sagemaker:project-id", "Value": record["ProjectId"]},
    ]


def install(cloud) -> ProjectsService:
    service = ProjectsService(cloud)
    for operation, handler in (
        ("CreateProject", service.create),
        ("DescribeProject", service.describe),
        ("ListProjects", service.list),
        ("DeleteProject", service.delete),
        ("UpdateProject", service.update),
    ):
        cloud.gateway.json("SageMaker", operation)(handler)
    return service
