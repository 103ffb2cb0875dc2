"""Lambda-backed custom resources (``AWS::CloudFormation::CustomResource`` and ``Custom::*``).

On create, update and delete the function named by ``ServiceToken`` really runs: its code zip (kept
by moto's Lambda backend) is unpacked and its handler called in the sandbox with the
CloudFormation request event and a Lambda context, talking to this local cloud through boto3. The
event's ``ResponseURL`` points back here (``PUT /cloudformation-custom-resource/<request id>``), where
cfn-response style handlers report; a handler that just returns a dict succeeds with it as ``Data``.
A ``FAILED`` response fails the resource, and so the stack, with the handler's ``Reason``.

The stack operation runs in the background (``operations.py``); while the function runs it lets go
of the state lock, so the function's own API calls (deleting stacks, emptying buckets) go through.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.logs.models import logs_backends
from moto.utilities.arns import parse_arn
from werkzeug.wrappers import Response

from localcloud.core import moto_seam as seam
from localcloud.core import sandbox, signatures
from localcloud.services.cloudformation import stacks
from localcloud.services.cloudformation.base import ResourceFailed, StackResource

log = logging.getLogger("localcloud.services.cloudformation.custom")
TYPE = "AWS::CloudFormation::CustomResource"
RESPONSE_PATH = "/cloudformation-custom-resource"
RUNNER = Path(__file__).with_name("lambda_runner.py")
MAX_WAIT_SECONDS = 900  # Lambda's own limit


class ResponseInbox:
    """The answers handlers PUT to their ResponseURL, by request id, for the cloud that runs them."""

    def __init__(self) -> None:
        self.responses: dict[str, dict[str, Any]] = {}

    def receive(self, call) -> Response:
        request_id = call.match.group("request_id")
        try:
            body = json.loads(call.raw or b"{}")
        except json.JSONDecodeError:
            return Response("the response must be a JSON object", status=400)
        if not isinstance(body, dict) or body.get("Status") not in ("SUCCESS", "FAILED"):
            return Response('the response needs "Status": "SUCCESS" or "FAILED"', status=400)
        self.responses[request_id] = body
        return Response("", status=200)


class CfnCustomResource(StackResource, CloudFormationModel):
    TYPE = TYPE

    def __init__(
        self,
        stack_id: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        physical_id: str,
        data: dict[str, Any],
    ):
        self.stack_id, self.logical_id, self.resource_type = stack_id, logical_id, resource_type
        self.properties = properties
        self.physical_id = physical_id
        self.attributes = data

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True  # whatever the function returns in Data

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise ResourceFailed(
                f"custom resource {self.logical_id} returned no attribute {attribute_name} "
                f"in its Data (it returned: {sorted(self.attributes) or 'none'})"
            )
        return self.attributes[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        logical_id, stack_id, resource_type = kwargs["LogicalId"], kwargs["StackId"], kwargs["ResourceType"]
        event = _event("Create", stack_id, logical_id, resource_type, properties)
        response = invoke(account_id, region_name, event)
        return cls(
            stack_id,
            logical_id,
            resource_type,
            properties,
            response.get("PhysicalResourceId") or resource_name,
            response.get("Data") or {},
        )

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        old = original_resource
        properties = cloudformation_json["Properties"]
        event = _event(
            "Update",
            old.stack_id,
            old.logical_id,
            old.resource_type,
            properties,
            PhysicalResourceId=old.physical_id,
            OldResourceProperties=old.properties,
        )
        response = invoke(account_id, region_name, event)
        updated = cls(
            old.stack_id,
            old.logical_id,
            old.resource_type,
            properties,
            response.get("PhysicalResourceId") or old.physical_id,
            response.get("Data") or {},
        )
        if updated.physical_id != old.physical_id:  # a replacement: the old one is deleted at clean-up
            stacks.after_update_succeeds(lambda: old.delete(account_id, region_name))
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        event = _event(
            "Delete",
            self.stack_id,
            self.logical_id,
            self.resource_type,
            self.properties,
            PhysicalResourceId=self.physical_id,
        )
        invoke(account_id, region_name, event)


def _event(
    request_type: str,
    stack_id: str,
    logical_id: str,
    resource_type: str,
    properties: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    token = properties.get("ServiceToken")
    if not token:
        raise ResourceFailed(
            f"{resource_type} {logical_id}: property ServiceToken is required "
            "(the ARN of the Lambda function that implements it)"
        )
    return {
        "RequestType": request_type,
        "ServiceToken": token,
        "StackId": stack_id,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": properties,
        **extra,
    }


# running the function ------------------------------------------------------------------------------
def invoke(account_id: str, region_name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Run the function for ``event``; its SUCCESS response, or ResourceFailed with its reason."""
    cloud = seam.bound()
    if cloud is None:
        raise ResourceFailed(
            "custom resources need the local cloud's server (localcloud.services.cloudformation is not installed)"
        )
    token = event["ServiceToken"]
    try:
        if parse_arn(token).service != "lambda":
            raise ValueError
    except (ValueError, IndexError):
        raise ResourceFailed(f"ServiceToken {token!r}: only Lambda function ARNs are supported locally") from None
    try:
        function = lambda_backends[account_id][region_name].get_function(token)
    except Exception:
        raise ResourceFailed(f"ServiceToken {token}: no such Lambda function") from None
    # a presigned URL, as CloudFormation's is: the handler needs no credentials to answer, and nobody
    # without the URL can answer for it
    event["ResponseURL"] = signatures.presign_url(
        f"{cloud.url}{RESPONSE_PATH}/{event['RequestId']}", "PUT", cloud.credentials.issue(), region_name, 7200
    )
    with tempfile.TemporaryDirectory(prefix="custom-resource-") as folder:
        outcome, lines = run_function(cloud, function, event, Path(folder))
    ship_function_logs(account_id, region_name, function, event["RequestId"], lines)
    inbox = cloud.service(ResponseInbox)
    response = inbox.responses.pop(event["RequestId"], None) or _from_return(outcome, lines)
    if response.get("Status") != "SUCCESS":
        raise ResourceFailed(
            "Received response status [FAILED] from custom resource. Message returned: "
            f"{response.get('Reason') or 'no reason given'}"
        )
    return response


def run_function(
    cloud, function, event: dict[str, Any], folder: Path, request_id: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Run the handler once (also for pipeline Lambda steps, whose events carry no RequestId)."""
    request_id = request_id or event["RequestId"]
    ml = folder / "ml"
    code = ml / "code"
    code.mkdir(parents=True)
    try:
        zipfile.ZipFile(io.BytesIO(function.code_bytes)).extractall(code)
    except zipfile.BadZipFile:
        return {
            "errorMessage": f"the code of function {function.function_name} is not a zip archive",
            "errorType": "InvalidCode",
        }, []
    timeout = min(float(function.timeout or 3), MAX_WAIT_SECONDS)
    context = {
        "function_name": function.function_name,
        "function_arn": function.function_arn,
        "memory_size": int(function.memory_size or 128),
        "request_id": request_id,
        "log_group_name": f"/aws/lambda/{function.function_name}",
        "log_stream_name": _stream_name(request_id),
        "timeout_seconds": timeout,
    }
    (ml / "event.json").write_text(json.dumps(event, default=str))
    (ml / "context.json").write_text(json.dumps(context))
    env = {
        **{k: str(v) for k, v in (function.environment_vars or {}).items()},
        **cloud.session_environment(),
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(context["memory_size"]),
        "LAMBDA_TASK_ROOT": "/opt/ml/code",
    }
    argv = [
        Path(sys.executable).name,
        str(RUNNER),
        "/opt/ml/code",
        function.handler or "",
        "/opt/ml/event.json",
        "/opt/ml/result.json",
        "/opt/ml/context.json",
    ]
    log_path = folder / "output.log"
    try:
        process = sandbox.start(ml, argv, env, log_path, workdir="/opt/ml/code", package=True)  # the runner is ours
        _wait_releasing_state(process, timeout)
        if process.poll() is None:
            process.kill()
            process.wait()
            timed_out = True
        else:
            timed_out = False
    finally:
        cloud.end_session(env)  # the invocation is over: its key signs nothing more
    if timed_out:
        outcome = {"errorMessage": f"Task timed out after {timeout:.0f} seconds", "errorType": "Timeout"}
    elif (ml / "result.json").exists():
        outcome = json.loads((ml / "result.json").read_text())
    else:
        outcome = {
            "errorMessage": f"the function's process exited with code {process.returncode}",
            "errorType": "Runtime.ExitError",
        }
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    return outcome, lines


def _wait_releasing_state(process, timeout: float) -> None:
    """Wait for the function without holding the state lock (its API calls need it)."""
    deadline = time.monotonic() + timeout
    cloud = seam.bound()
    released = threading.Condition(cloud.state.lock)
    with released:
        while process.poll() is None and time.monotonic() < deadline and not cloud.stopping.is_set():
            released.wait(0.05)


def _from_return(outcome: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """No response was PUT: a returned dict is the answer; an error or nothing is a failure."""
    if "errorMessage" in outcome:
        tail = " | ".join(lines[-5:])
        return {
            "Status": "FAILED",
            "Reason": f"{outcome.get('errorType')}: {outcome['errorMessage']}"
            + (f" (last log lines: {tail})" if tail else ""),
        }
    returned = outcome.get("returned")
    if isinstance(returned, dict):
        if returned.get("Status") in ("SUCCESS", "FAILED"):
            return returned
        return {"Status": "SUCCESS", "Data": returned}
    return {
        "Status": "FAILED",
        "Reason": "the function returned without sending a response to the ResponseURL and without returning a dict",
    }


def _stream_name(request_id: str) -> str:
    return time.strftime("%Y/%m/%d/[$LATEST]") + request_id.replace("-", "")


def ship_function_logs(account_id: str, region_name: str, function, request_id: str, lines: list[str]) -> None:
    """What the function printed goes to its log group, as Lambda does."""
    backend = logs_backends[account_id][region_name]
    group, stream = f"/aws/lambda/{function.function_name}", _stream_name(request_id)
    now = int(time.time() * 1000)
    try:
        if group not in backend.groups:
            backend.create_log_group(group, {})
        backend.create_log_stream(group, stream)
        messages = [f"START RequestId: {request_id} Version: $LATEST", *lines, f"END RequestId: {request_id}"]
        backend.put_log_events(group, stream, [{"timestamp": now, "message": m} for m in messages if m])
    except Exception:  # logs are a convenience; the invocation's outcome stands
        log.warning("could not write the logs of %s", function.function_name, exc_info=True)


def _wrap_class_lookup(original):
    def resource_class_from_type(resource_type: str):
        if resource_type.startswith("Custom::"):
            return CfnCustomResource
        return original(resource_type)

    return resource_class_from_type


def install(cloud) -> None:
    inbox = cloud.register(ResponseInbox())
    cloud.gateway.route("PUT", RESPONSE_PATH + r"/(?P<request_id>[A-Za-z0-9-]+)")(inbox.receive)
    seam.patch(
        parsing,
        "resource_class_from_type",
        wrap=_wrap_class_lookup,
        why="Custom::* and AWS::CloudFormation::CustomResource types run their Lambda in the sandbox",
        until="moto invoking Lambda-backed custom resources without Docker",
    )
