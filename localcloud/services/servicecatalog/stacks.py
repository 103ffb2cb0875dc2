"""Following a project's CloudFormation stack through the local CloudFormation API, as a client does.

Service Catalog provisioning and SageMaker's S3 project templates both create, update and delete one
stack per project and wait for it; this is that waiting, with CloudFormation's reason when it fails.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

log = logging.getLogger("localcloud.services.stacks")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
STACK_TIMEOUT_SECONDS = 1800


class StackFailed(Exception):
    """The stack did not reach the wanted state; the message is CloudFormation's reason."""


class Stacks:
    def __init__(self, cloud):
        self.cloud = cloud
        self._clients: dict[str, Any] = {}

    def client(self, region: str):
        """No retries: a retried CreateStack would only report that the stack exists."""
        if region not in self._clients:
            self._clients[region] = boto3.client(
                "cloudformation",
                endpoint_url=self.cloud.url,
                region_name=region,
                aws_access_key_id=self.cloud.credentials.root.access_key_id,
                aws_secret_access_key=self.cloud.credentials.root.secret_access_key,
                config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=STACK_TIMEOUT_SECONDS),
            )
        return self._clients[region]

    @staticmethod
    def find(cloudformation, name: str) -> dict[str, Any] | None:
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError:
            return None
        live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
        return live[0] if live else None

    def wait(self, cloudformation, name: str, wanted: str, since: float = 0.0) -> dict[str, Any]:
        """Wait for ``wanted``; any other state that is not ``*_IN_PROGRESS`` raises StackFailed, with the
        reason of the operation that started at ``since``."""
        deadline = time.monotonic() + STACK_TIMEOUT_SECONDS
        delay = 0.05
        while not self.cloud.stopping.is_set():
            stack = self.find(cloudformation, name)
            if stack is None:
                if wanted == "DELETE_COMPLETE":
                    return {}
                raise StackFailed(f"stack {name} disappeared")
            status = stack["StackStatus"]
            if status == wanted:
                return stack
            if not status.endswith("_IN_PROGRESS"):
                raise StackFailed(self.reason(cloudformation, name, stack, since))
            if time.monotonic() > deadline:
                raise StackFailed(f"stack {name} was still {status} after {STACK_TIMEOUT_SECONDS} s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise StackFailed("the local cloud stopped; the change resumes when it starts again")

    @staticmethod
    def reason(cloudformation, name: str, stack: dict[str, Any], since: float = 0.0) -> str:
        """The first failed resource of the latest operation (events after ``since``) and its reason."""
        try:
            events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
        except ClientError:
            events = []
        failed = [
            e
            for e in events
            if e.get("ResourceStatus", "").endswith("FAILED")
            and e.get("ResourceStatusReason")
            and e["Timestamp"].timestamp() >= since
        ]
        if failed:
            first = failed[-1]  # events come newest first
            return f"{first['LogicalResourceId']} ({first['ResourceType']}): {first['ResourceStatusReason']}"
        return stack.get("StackStatusReason") or f"stack {name} ended {stack['StackStatus']}"

    def delete(self, cloudformation, name: str) -> None:
        """Delete the stack and wait until it is gone; StackFailed (or ClientError) if it cannot be."""
        if self.find(cloudformation, name) is not None:
            cloudformation.delete_stack(StackName=name)
            self.wait(cloudformation, name, "DELETE_COMPLETE")

    def roll_back(self, cloudformation, name: str) -> None:
        """Delete what a failed creation left, as CloudFormation's rollback does."""
        try:
            self.delete(cloudformation, name)
        except (ClientError, StackFailed):
            log.exception("rolling back stack %s", name)

    @staticmethod
    def outputs(stack: dict[str, Any]) -> list[dict[str, str]]:
        return [
            {"OutputKey": o["OutputKey"], "OutputValue": o["OutputValue"], "Description": o.get("Description", "")}
            for o in stack.get("Outputs", [])
        ]
