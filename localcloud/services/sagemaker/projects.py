"""SageMaker projects: ``CreateProject`` provisions a Service Catalog product, as Studio does.

A project is validated up front (name, uniqueness, product and artifact), so a refused request
leaves nothing behind. Provisioning then runs in a background thread through the local Service
Catalog (a CloudFormation stack ``SC-<account>-pp-<id>`` with ``SageMakerProjectName`` and
``SageMakerProjectId`` added to the parameters); the project follows its provisioned product:
Pending -> CreateInProgress -> CreateCompleted | CreateFailed (with the stack's reason).
``DeleteProject`` terminates the provisioned product (its stack, whose cleanup custom resource
empties what the project made) and the project disappears once that is done. Records are JSON
files in the state folder and resume after a restart.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
import threading
import time
from typing import Any

from localcloud import ACCOUNT_ID
from localcloud.core.errors import AwsError, validation_error
from localcloud.services.servicecatalog import catalog, provisioning_service

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
        product_id = details.get("ProductId")
        if not product_id:
            raise validation_error(
                "ServiceCatalogProvisioningDetails.ProductId is required: the Service Catalog "
                "product of the project template (SearchProducts lists them)"
            )
        region_backend = catalog.backend(ACCOUNT_ID, call.region)
        try:
            product = catalog.product(region_backend, product_id)
            artifact_id = details.get("ProvisioningArtifactId") or self._default_artifact(region_backend, product.id)
            catalog.artifact(region_backend, product.id, artifact_id)
        except AwsError as error:
            raise validation_error(f"Cannot provision product {product_id!r}: {error.message}") from error
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
                "ServiceCatalogProvisioningDetails": {**details, "ProvisioningArtifactId": artifact_id},
                "ServiceCatalogProvisionedProductDetails": {},
                "ProjectStatus": "Pending",
                "Region": call.region,
                "CreatedBy": {"UserProfileName": "localcloud"},
                "CreationTime": now,
                "Tags": body.get("Tags") or [],
            }
            self._save(record)
        self._start(self._provision, name)
        return {"ProjectArn": record["ProjectArn"], "ProjectId": project_id}

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
            "CreatedBy",
            "LastModifiedTime",
        )
        described = {k: record[k] for k in keys if record.get(k) not in (None, "", {})}
        if record["ProjectStatus"].endswith("Failed") and record.get("FailureReason"):
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
            failed = "DeleteFailed" if record and record["ProjectStatus"].startswith("Delete") else "CreateFailed"
            self._change(name, ProjectStatus=failed, FailureReason=f"local cloud error: {error!r}")

    def _provision(self, name: str) -> None:
        record = self._change(name, ProjectStatus="CreateInProgress")
        if record is None:
            return
        service = provisioning_service()
        pp_id = record["ServiceCatalogProvisionedProductDetails"].get("ProvisionedProductId")
        if not pp_id:
            details = record["ServiceCatalogProvisioningDetails"]
            given = [
                p
                for p in details.get("ProvisioningParameters") or []
                if p.get("Key") not in ("SageMakerProjectName", "SageMakerProjectId")
            ]
            tags = [t for t in record["Tags"] if not t["Key"].startswith("aws:")] + [
                {"Key": "sagemaker:project-name", "Value": name},
                {"Key": "sagemaker:project-id", "Value": record["ProjectId"]},
            ]
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
            elif record["ProjectStatus"] == "DeleteInProgress":
                self._start(self._terminate, record["ProjectName"])

    def shutdown(self) -> None:
        for thread in self.threads:
            thread.join(timeout=2)


def install(cloud) -> ProjectsService:
    service = ProjectsService(cloud)
    for operation, handler in (
        ("CreateProject", service.create),
        ("DescribeProject", service.describe),
        ("ListProjects", service.list),
        ("DeleteProject", service.delete),
    ):
        cloud.gateway.json("SageMaker", operation)(handler)
    return service
