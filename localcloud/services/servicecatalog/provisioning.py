"""Provisioned products: each is a CloudFormation stack ``SC-<account>-pp-<id>`` made from the artifact.

``ProvisionProduct`` answers at once with a record in ``CREATED`` state; a background thread fetches
the artifact's template from the local S3, creates the stack with the given parameters and follows
it to the end. A failed stack is rolled back (deleted), as CloudFormation does, and the product is
left in ``ERROR`` with the stack's reason. ``UpdateProvisionedProduct`` (a new provisioning artifact,
new parameter values) is an UpdateStack of the product's stack: ``AVAILABLE`` on the new artifact
once it completes, or ``TAINTED`` with the reason when the stack rolled back to the old one. Records
are JSON files in the state folder, so a restart picks up where it stopped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from localcloud import ACCOUNT_ID
from localcloud.core.errors import AwsError
from localcloud.services.servicecatalog import catalog, templates
from localcloud.services.servicecatalog.stacks import CAPABILITIES, StackFailed, Stacks

log = logging.getLogger("localcloud.services.servicecatalog")
FOLDER = "servicecatalog/provisioned-products"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$")
__all__ = ["ProvisioningService", "StackFailed", "stack_name"]


def stack_name(account: str, product_id: str) -> str:
    return f"SC-{account}-{product_id}"


class ProvisioningService:
    def __init__(self, cloud):
        self.cloud = cloud
        self.lock = threading.RLock()
        self.threads: list[threading.Thread] = []
        self.stacks = Stacks(cloud)

    # records ---------------------------------------------------------------------------------
    def _save(self, record: dict[str, Any]) -> None:
        record["LastUpdatedTime"] = time.time()
        self.cloud.state.write_json(f"{FOLDER}/{record['Id']}.json", record)

    def records(self) -> list[dict[str, Any]]:
        return self.cloud.state.list_json(FOLDER)

    def find(self, product_id: str | None = None, name: str | None = None) -> dict[str, Any]:
        for record in self.records():
            if (product_id and record["Id"] == product_id) or (not product_id and name and record["Name"] == name):
                return record
        raise AwsError(
            "ResourceNotFoundException",
            f"Provisioned product {product_id or name!r} not found: list them with SearchProvisionedProducts",
        )

    def find_record(self, record_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        for product in self.records():
            for record in product["Records"]:
                if record["RecordId"] == record_id:
                    return product, record
        raise AwsError("ResourceNotFoundException", f"Record {record_id!r} not found")

    @staticmethod
    def _new_record(product: dict[str, Any], record_type: str) -> dict[str, Any]:
        now = time.time()
        record = {
            "RecordId": catalog.new_id("rec-"),
            "RecordType": record_type,
            "Status": "CREATED",
            "CreatedTime": now,
            "UpdatedTime": now,
            "RecordErrors": [],
        }
        product["Records"].append(record)
        product["LastRecordId"] = record["RecordId"]
        if record_type == "PROVISION_PRODUCT":
            product["LastProvisioningRecordId"] = record["RecordId"]
        return record

    # API ---------------------------------------------------------------------------------------
    def provision(self, region: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("ProvisionedProductName") or ""
        if not NAME_PATTERN.match(name):
            raise AwsError(
                "InvalidParametersException",
                f"ProvisionedProductName {name!r} must match {NAME_PATTERN.pattern}",
            )
        region_backend = catalog.backend(ACCOUNT_ID, region)
        product = catalog.product(region_backend, body.get("ProductId"), body.get("ProductName"))
        artifact = catalog.artifact(
            region_backend,
            product.id,
            body.get("ProvisioningArtifactId"),
            body.get("ProvisioningArtifactName"),
        )
        token = body.get("ProvisionToken")
        with self.lock:
            for existing in self.records():
                if token and existing.get("IdempotencyToken") == token:
                    return self.record_detail(existing, existing["Records"][0])
                if existing["Name"] == name:
                    raise AwsError(
                        "DuplicateResourceException",
                        f"A provisioned product named {name!r} already exists ({existing['Id']})",
                    )
            pp_id = catalog.new_id("pp-")
            provisioned = {
                "Id": pp_id,
                "Name": name,
                "Type": "CFN_STACK",
                "Status": "UNDER_CHANGE",
                "StatusMessage": "",
                "Arn": f"arn:aws:servicecatalog:{region}:{ACCOUNT_ID}:stack/{name}/{pp_id}",
                "CreatedTime": time.time(),
                "IdempotencyToken": token,
                "Region": region,
                "ProductId": product.id,
                "ProductName": product.name,
                "ProvisioningArtifactId": artifact["Id"],
                "ProvisioningArtifactName": artifact["Name"],
                "PathId": body.get("PathId") or "",
                "TemplateUrl": artifact["TemplateUrl"],
                "Parameters": body.get("ProvisioningParameters") or [],
                "Tags": body.get("Tags") or [],
                "StackName": stack_name(ACCOUNT_ID, pp_id),
                "StackId": None,
                "Outputs": [],
                "Records": [],
            }
            record = self._new_record(provisioned, "PROVISION_PRODUCT")
            self._save(provisioned)
        self._start(self._create, pp_id)
        return self.record_detail(provisioned, record)

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            provisioned = self.find(body.get("ProvisionedProductId"), body.get("ProvisionedProductName"))
            if provisioned["Status"] == "UNDER_CHANGE":
                raise AwsError(
                    "InvalidStateException",
                    f"Provisioned product {provisioned['Id']} is being changed: update it when "
                    "DescribeProvisionedProduct no longer says UNDER_CHANGE",
                )
            region_backend = catalog.backend(ACCOUNT_ID, provisioned["Region"])
            artifact = catalog.artifact(
                region_backend,
                provisioned["ProductId"],
                body.get("ProvisioningArtifactId") or provisioned["ProvisioningArtifactId"],
                body.get("ProvisioningArtifactName"),
            )
            previous = {p["Key"]: p["Value"] for p in provisioned["Parameters"]}
            given = {
                p["Key"]: previous.get(p["Key"], "") if p.get("UsePreviousValue") else p.get("Value", "")
                for p in body.get("ProvisioningParameters") or []
            }
            parameters = [{"Key": k, "Value": v} for k, v in {**previous, **given}.items()]
            record = self._new_record(provisioned, "UPDATE_PROVISIONED_PRODUCT")
            provisioned["Status"] = "UNDER_CHANGE"
            provisioned["Pending"] = {
                "ProvisioningArtifactId": artifact["Id"],
                "ProvisioningArtifactName": artifact["Name"],
                "TemplateUrl": artifact["TemplateUrl"],
                "Parameters": parameters,
            }
            self._save(provisioned)
        self._start(self._apply_update, provisioned["Id"])
        return self.record_detail(provisioned, record)

    def terminate(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            provisioned = self.find(body.get("ProvisionedProductId"), body.get("ProvisionedProductName"))
            if (
                provisioned["Status"] == "UNDER_CHANGE"
                and provisioned["Records"][-1]["RecordType"] != "TERMINATE_PROVISIONED_PRODUCT"
            ):
                raise AwsError(
                    "InvalidStateException",
                    f"Provisioned product {provisioned['Id']} is still being provisioned: "
                    "terminate it when DescribeProvisionedProduct no longer says UNDER_CHANGE",
                )
            record = self._new_record(provisioned, "TERMINATE_PROVISIONED_PRODUCT")
            provisioned["Status"] = "UNDER_CHANGE"
            self._save(provisioned)
        self._start(self._delete, provisioned["Id"])
        return self.record_detail(provisioned, record)

    def describe(self, body: dict[str, Any]) -> dict[str, Any]:
        provisioned = self.find(body.get("Id"), body.get("Name"))
        return {"ProvisionedProductDetail": self.detail(provisioned), "CloudWatchDashboards": []}

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = (body.get("Filters") or {}).get("SearchQuery") or []
        found = []
        for provisioned in self.records():
            text = " ".join(str(provisioned.get(k, "")) for k in ("Id", "Name", "ProductId", "Status"))
            if all(term.split(":")[-1] in text for term in wanted):
                found.append(self.detail(provisioned))
        return {"ProvisionedProducts": found, "TotalResultsCount": len(found)}

    def describe_record(self, body: dict[str, Any]) -> dict[str, Any]:
        provisioned, record = self.find_record(body.get("Id", ""))
        return {
            "RecordDetail": self.record_detail(provisioned, record),
            "RecordOutputs": provisioned["Outputs"],
        }

    @staticmethod
    def detail(provisioned: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "Id",
            "Name",
            "Arn",
            "Type",
            "Status",
            "StatusMessage",
            "CreatedTime",
            "IdempotencyToken",
            "LastRecordId",
            "LastProvisioningRecordId",
            "LastSuccessfulProvisioningRecordId",
            "ProductId",
            "ProvisioningArtifactId",
        )
        detail = {k: provisioned[k] for k in keys if provisioned.get(k) not in (None, "")}
        if provisioned.get("StackId"):
            detail["PhysicalId"] = provisioned["StackId"]
        return detail

    @staticmethod
    def record_detail(provisioned: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        return {
            **record,
            "ProvisionedProductName": provisioned["Name"],
            "ProvisionedProductId": provisioned["Id"],
            "ProvisionedProductType": "CFN_STACK",
            "ProductId": provisioned["ProductId"],
            "ProvisioningArtifactId": provisioned["ProvisioningArtifactId"],
            "PathId": provisioned["PathId"],
            "RecordTags": provisioned["Tags"],
        }

    # work ----------------------------------------------------------------------------------------
    def _start(self, work, pp_id: str) -> None:
        thread = threading.Thread(target=self._guarded, args=(work, pp_id), name=f"sc-{pp_id}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def _guarded(self, work, pp_id: str) -> None:
        try:
            work(pp_id)
        except Exception as error:  # a bug of ours must still end the product's change
            log.exception("provisioned product %s", pp_id)
            self._finish(pp_id, "ERROR", f"local cloud error: {error!r}")

    def _update(self, pp_id: str, **changes: Any) -> dict[str, Any]:
        with self.lock:
            provisioned = self.cloud.state.read_json(f"{FOLDER}/{pp_id}.json")
            provisioned.update(changes)
            provisioned["Records"][-1]["Status"] = "IN_PROGRESS"
            provisioned["Records"][-1]["UpdatedTime"] = time.time()
            self._save(provisioned)
            return provisioned

    def _finish(self, pp_id: str, status: str, message: str = "", **changes: Any) -> None:
        with self.lock:
            path = self.cloud.state.root / FOLDER / f"{pp_id}.json"
            if not path.exists():
                return
            provisioned = self.cloud.state.read_json(f"{FOLDER}/{pp_id}.json")
            record = provisioned["Records"][-1]
            if status == "TERMINATED":
                path.unlink()
                return
            provisioned.update(changes, Status=status, StatusMessage=message)
            record["Status"] = "SUCCEEDED" if status == "AVAILABLE" else "FAILED"
            record["UpdatedTime"] = time.time()
            if message and status != "AVAILABLE":
                record["RecordErrors"] = [{"Code": "StackFailed", "Description": message}]
            if status == "AVAILABLE":
                provisioned["LastSuccessfulProvisioningRecordId"] = record["RecordId"]
            self._save(provisioned)

    def _create(self, pp_id: str) -> None:
        provisioned = self._update(pp_id)
        cloudformation = self.stacks.client(provisioned["Region"])
        name = provisioned["StackName"]
        stack = self.stacks.find(cloudformation, name)
        if stack is None:  # not yet made (or a restart came before it was)
            try:
                body = templates.fetch(self.cloud.client("s3", provisioned["Region"]), provisioned["TemplateUrl"])
                stack_id = cloudformation.create_stack(
                    StackName=name,
                    TemplateBody=body,
                    Capabilities=CAPABILITIES,
                    Parameters=[
                        {"ParameterKey": p["Key"], "ParameterValue": p["Value"]} for p in provisioned["Parameters"]
                    ],
                    Tags=provisioned["Tags"]
                    + [{"Key": "aws:servicecatalog:provisionedProductArn", "Value": provisioned["Arn"]}],
                )["StackId"]
            except (AwsError, ClientError) as error:
                message = error.message if isinstance(error, AwsError) else error.response["Error"]["Message"]
                self.stacks.roll_back(cloudformation, name)
                self._finish(pp_id, "ERROR", f"CloudFormation could not create stack {name}: {message}")
                return
            self._update(pp_id, StackId=stack_id)
        try:
            stack = self.stacks.wait(cloudformation, name, "CREATE_COMPLETE")
        except StackFailed as failure:
            self.stacks.roll_back(cloudformation, name)
            self._finish(pp_id, "ERROR", str(failure))
            return
        self._finish(pp_id, "AVAILABLE", "", StackId=stack["StackId"], Outputs=Stacks.outputs(stack))

    def _apply_update(self, pp_id: str) -> None:
        provisioned = self._update(pp_id)
        pending = provisioned["Pending"]
        cloudformation = self.stacks.client(provisioned["Region"])
        name = provisioned["StackName"]
        since = pending.get("Started")
        if not since:
            since = time.time()
            try:
                body = templates.fetch(self.cloud.client("s3", provisioned["Region"]), pending["TemplateUrl"])
                cloudformation.update_stack(
                    StackName=name,
                    TemplateBody=body,
                    Capabilities=CAPABILITIES,
                    Parameters=[
                        {"ParameterKey": p["Key"], "ParameterValue": p["Value"]} for p in pending["Parameters"]
                    ],
                    Tags=provisioned["Tags"]
                    + [{"Key": "aws:servicecatalog:provisionedProductArn", "Value": provisioned["Arn"]}],
                )
            except (AwsError, ClientError) as error:
                message = error.message if isinstance(error, AwsError) else error.response["Error"]["Message"]
                if "No updates are to be performed" not in message:
                    self._finish(
                        pp_id, "TAINTED", f"CloudFormation could not update stack {name}: {message}", Pending=None
                    )
                    return
            self._update(pp_id, Pending={**pending, "Started": since})
        try:
            stack = self.stacks.wait(cloudformation, name, "UPDATE_COMPLETE", since=since)
        except StackFailed as failure:
            if not self.cloud.stopping.is_set():
                self._finish(pp_id, "TAINTED", str(failure), Pending=None)
            return
        self._finish(
            pp_id,
            "AVAILABLE",
            "",
            ProvisioningArtifactId=pending["ProvisioningArtifactId"],
            ProvisioningArtifactName=pending["ProvisioningArtifactName"],
            TemplateUrl=pending["TemplateUrl"],
            Parameters=pending["Parameters"],
            Outputs=Stacks.outputs(stack),
            Pending=None,
        )

    def _delete(self, pp_id: str) -> None:
        provisioned = self._update(pp_id)
        cloudformation = self.stacks.client(provisioned["Region"])
        name = provisioned["StackName"]
        try:
            if self.stacks.find(cloudformation, name) is not None:
                cloudformation.delete_stack(StackName=name)
                self.stacks.wait(cloudformation, name, "DELETE_COMPLETE")
        except (StackFailed, ClientError) as failure:
            reason = failure.response["Error"]["Message"] if isinstance(failure, ClientError) else str(failure)
            self._finish(pp_id, "TAINTED", f"stack {name} could not be deleted: {reason}")
            return
        self._finish(pp_id, "TERMINATED")

    # lifecycle -----------------------------------------------------------------------------------
    def resume(self) -> None:
        for provisioned in self.records():
            if provisioned["Status"] != "UNDER_CHANGE":
                continue
            if provisioned["Records"][-1]["RecordType"] == "TERMINATE_PROVISIONED_PRODUCT":
                self._start(self._delete, provisioned["Id"])
            elif provisioned["Records"][-1]["RecordType"] == "UPDATE_PROVISIONED_PRODUCT":
                self._start(self._apply_update, provisioned["Id"])
            else:
                self._start(self._create, provisioned["Id"])

    def shutdown(self) -> None:
        for thread in self.threads:
            thread.join(timeout=2)
