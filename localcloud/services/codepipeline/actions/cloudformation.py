"""CloudFormation deploy actions: create or update a stack from an artifact's template and wait for it.

Modes: CREATE_UPDATE, REPLACE_ON_FAILURE (a stack in a failed state is deleted first) and
DELETE_ONLY. "No updates are to be performed" counts as success; a failure reports the stack's
failed events.
"""

from __future__ import annotations

import io
import json
import time
import zipfile

from botocore.exceptions import ClientError

from localcloud.services.codepipeline.actions import ActionContext, ActionFailed, Interrupted, Outcome

FAILED_STATES = {
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "CREATE_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_FAILED",
}
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
WAIT_TIMEOUT = 3600


def read_artifact_file(ctx: ActionContext, reference: str, what: str) -> str:
    artifact, sep, path = reference.partition("::")
    if not sep or not path:
        raise ActionFailed(f"{what} {reference!r} must be 'ArtifactName::path/in/artifact'", "ConfigurationError")
    if artifact not in ctx.inputs:
        raise ActionFailed(
            f"{what} names artifact {artifact!r}, which is not an input of this action (inputs: {sorted(ctx.inputs)})",
            "ConfigurationError",
        )
    location = ctx.inputs[artifact]
    body = ctx.client("s3").get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        try:
            return bundle.read(path).decode()
        except KeyError as missing:
            raise ActionFailed(f"{what}: file {path} is not in artifact {artifact}") from missing


def _parameters(ctx: ActionContext) -> tuple[dict[str, str], list[dict[str, str]]]:
    parameters: dict[str, str] = {}
    tags: list[dict[str, str]] = []
    if ctx.configuration.get("TemplateConfiguration"):
        text = read_artifact_file(ctx, ctx.configuration["TemplateConfiguration"], "TemplateConfiguration")
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ActionFailed(f"TemplateConfiguration is not JSON: {error}") from error
        unknown = set(document) - {"Parameters", "Tags", "StackPolicy"}
        if unknown:
            raise ActionFailed(
                f"TemplateConfiguration has unknown keys {sorted(unknown)}; allowed: Parameters, Tags, StackPolicy"
            )
        parameters.update({k: str(v) for k, v in (document.get("Parameters") or {}).items()})
        tags = [{"Key": k, "Value": str(v)} for k, v in (document.get("Tags") or {}).items()]
    if ctx.configuration.get("ParameterOverrides"):
        try:
            overrides = json.loads(ctx.configuration["ParameterOverrides"])
        except ValueError as error:
            raise ActionFailed(f"ParameterOverrides is not JSON: {error}", "ConfigurationError") from error
        parameters.update({k: str(v) for k, v in overrides.items()})
    return parameters, tags


def _stack(cfn, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def _failed_events(cfn, name: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:
        return ""
    failed = [
        f"{e['LogicalResourceId']} {e['ResourceStatus']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED")
    ]
    return "; ".join(failed[:5])


def _wait(ctx: ActionContext, cfn, name: str, deleting: bool = False) -> dict | None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        stack = _stack(cfn, name)
        if stack is None:
            return None
        status = stack["StackStatus"]
        if deleting and status == "DELETE_COMPLETE":
            return None
        if not status.endswith("IN_PROGRESS"):
            return stack
        if ctx.cloud.stopping.is_set():
            raise Interrupted("the local cloud is stopping")
        if time.monotonic() > deadline:
            raise ActionFailed(f"stack {name} is still {status} after {WAIT_TIMEOUT} s")
        time.sleep(0.2)


def _delete(ctx: ActionContext, cfn, name: str, role: dict) -> None:
    cfn.delete_stack(StackName=name, **role)
    stack = _wait(ctx, cfn, name, deleting=True)
    if stack is not None and stack["StackStatus"] != "DELETE_COMPLETE":
        raise ActionFailed(f"stack {name} could not be deleted ({stack['StackStatus']}): {_failed_events(cfn, name)}")


def run(ctx: ActionContext) -> Outcome:
    mode = ctx.require("ActionMode")
    name = ctx.require("StackName")
    cfn = ctx.client("cloudformation")
    role = {"RoleARN": ctx.configuration["RoleArn"]} if ctx.configuration.get("RoleArn") else {}
    existing = _stack(cfn, name)
    if existing and existing["StackStatus"] == "DELETE_COMPLETE":
        existing = None
    if mode == "DELETE_ONLY":
        if existing:
            _delete(ctx, cfn, name, role)
        return Outcome(summary=f"Stack {name} deleted", external_id=name)
    if mode not in ("CREATE_UPDATE", "REPLACE_ON_FAILURE"):
        raise ActionFailed(
            f"ActionMode {mode} is not supported locally; use CREATE_UPDATE, REPLACE_ON_FAILURE or DELETE_ONLY",
            "ConfigurationError",
        )
    if existing and existing["StackStatus"] in FAILED_STATES:
        if mode == "CREATE_UPDATE" and existing["StackStatus"] != "ROLLBACK_COMPLETE":
            raise ActionFailed(
                f"stack {name} is in {existing['StackStatus']} and cannot be updated; use "
                "REPLACE_ON_FAILURE or delete the stack"
            )
        _delete(ctx, cfn, name, role)
        existing = None
    template = read_artifact_file(ctx, ctx.require("TemplatePath"), "TemplatePath")
    parameters, tags = _parameters(ctx)
    arguments = {
        "StackName": name,
        "TemplateBody": template,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": [c.strip() for c in ctx.configuration.get("Capabilities", "").split(",") if c.strip()],
        "Tags": tags,
        **role,
    }
    try:
        if existing:
            cfn.update_stack(**arguments)
            verb = "updated"
        else:
            cfn.create_stack(**arguments)
            verb = "created"
    except ClientError as error:
        if "No updates are to be performed" in str(error):
            return Outcome(summary=f"Stack {name}: no updates", external_id=name, output_variables=_outputs(existing))
        raise ActionFailed(f"stack {name}: {error.response['Error'].get('Message', error)}") from error
    stack = _wait(ctx, cfn, name)
    if stack is None or stack["StackStatus"] not in SUCCESS:
        status = stack["StackStatus"] if stack else "DELETED"
        raise ActionFailed(f"stack {name} ended in {status}: {_failed_events(cfn, name) or 'no failed events'}")
    return Outcome(summary=f"Stack {name} {verb}", external_id=stack["StackId"], output_variables=_outputs(stack))


def _outputs(stack: dict | None) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
