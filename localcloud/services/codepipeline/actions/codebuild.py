"""CodeBuild actions: start the project's build on the input artifacts, wait, export its variables."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

from localcloud.services.codepipeline.actions import ActionContext, ActionFailed, Interrupted, Outcome


def _environment(ctx: ActionContext) -> list[dict[str, str]]:
    raw = ctx.configuration.get("EnvironmentVariables")
    if not raw:
        return []
    try:
        variables = json.loads(raw)
    except ValueError as error:
        raise ActionFailed(
            f"action {ctx.action['name']}: EnvironmentVariables is not JSON: {error}", "ConfigurationError"
        ) from error
    if not isinstance(variables, list) or not all(isinstance(v, dict) and "name" in v for v in variables):
        raise ActionFailed(
            f"action {ctx.action['name']}: EnvironmentVariables must be a JSON list of "
            '{"name": ..., "value": ..., "type": "PLAINTEXT"}',
            "ConfigurationError",
        )
    return [
        {"name": v["name"], "value": str(v.get("value", "")), "type": v.get("type", "PLAINTEXT")} for v in variables
    ]


def _request(ctx: ActionContext) -> dict:
    inputs = list(ctx.inputs)
    if not inputs:
        raise ActionFailed(
            f"action {ctx.action['name']}: a CodeBuild action needs an input artifact", "ConfigurationError"
        )
    primary = ctx.configuration.get("PrimarySource") or inputs[0]
    if primary not in ctx.inputs:
        raise ActionFailed(
            f"action {ctx.action['name']}: PrimarySource {primary} is not one of the input artifacts {inputs}",
            "ConfigurationError",
        )
    location = ctx.inputs[primary]
    request = {
        "projectName": ctx.require("ProjectName"),
        "sourceTypeOverride": "S3",
        "sourceLocationOverride": f"{location['bucket']}/{location['key']}",
        "environmentVariablesOverride": _environment(ctx),
        "secondarySourcesOverride": [
            {"type": "S3", "location": f"{loc['bucket']}/{loc['key']}", "sourceIdentifier": name}
            for name, loc in ctx.inputs.items()
            if name != primary
        ],
        "artifactsOverride": {"type": "NO_ARTIFACTS"},
    }
    outputs = list(ctx.outputs.items())
    if outputs:

        def destination(loc: dict[str, str]) -> dict[str, str]:
            path, _, name = loc["key"].rpartition("/")
            return {
                "type": "S3",
                "location": loc["bucket"],
                "path": path,
                "name": name,
                "packaging": "ZIP",
                "namespaceType": "NONE",
            }

        request["artifactsOverride"] = destination(outputs[0][1])
        request["secondaryArtifactsOverride"] = [
            {**destination(loc), "artifactIdentifier": name} for name, loc in outputs[1:]
        ]
    return request


def console_url(build_id: str, region: str) -> str:
    """The build's page in the CodeBuild console, as CodePipeline links a CodeBuild action's execution."""
    return f"https://console.aws.amazon.com/codebuild/home?region={region}#/builds/{quote(build_id, safe=':')}/view/new"


def _failure(build: dict) -> str:
    for phase in build.get("phases", []):
        if phase.get("phaseStatus") not in (None, "SUCCEEDED", "IN_PROGRESS"):
            contexts = phase.get("contexts") or [{}]
            return (
                f"Build {build['buildStatus']} in phase {phase['phaseType']}: "
                f"{contexts[0].get('message') or contexts[0].get('statusCode', '')}"
            )
    return f"Build {build['buildStatus']}"


def _earlier_build(ctx: ActionContext, codebuild) -> dict | None:
    """The build this action had started before a restart cut it off, if any.

    A build is never started again: what it started (a SageMaker pipeline execution, say) goes on by
    itself after a restart, and a second build would start it twice. If the earlier build finished
    before the stop, its outcome is the action's; if the stop cut it off, the action fails saying so.
    """
    earlier = ctx.state.get("interruptedExternalId")
    if not earlier:
        return None
    found = codebuild.batch_get_builds(ids=[earlier])["builds"]
    if found and found[0]["buildStatus"] in ("SUCCEEDED", "IN_PROGRESS"):
        return found[0]
    raise ActionFailed(
        f"the local cloud stopped during build {earlier}, so this action failed. The build is not started "
        "again: what it had started goes on by itself (a SageMaker pipeline execution resumes and registers its "
        "model), and a second build would start it twice. Release a change to build again."
    )


def run(ctx: ActionContext) -> Outcome:
    codebuild = ctx.client("codebuild")
    build = _earlier_build(ctx, codebuild)
    if build is None:
        try:
            build = codebuild.start_build(**_request(ctx))["build"]
        except codebuild.exceptions.ResourceNotFoundException as missing:
            raise ActionFailed(
                f"CodeBuild project {ctx.configuration.get('ProjectName')} does not exist", "ConfigurationError"
            ) from missing
    build_id = build["id"]
    ctx.state["externalExecutionId"] = build_id
    ctx.state["externalExecutionUrl"] = console_url(build_id, ctx.region)  # shown while it runs and if it fails
    ctx.save()
    while build["buildStatus"] == "IN_PROGRESS":
        if ctx.should_stop():
            if ctx.cloud.stopping.is_set():
                raise Interrupted("the local cloud is stopping")
            codebuild.stop_build(id=build_id)
            raise Interrupted("build stopped")
        time.sleep(0.2)
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
    url = console_url(build_id, ctx.region)
    if build["buildStatus"] != "SUCCEEDED":
        if ctx.cloud.stopping.is_set():
            raise Interrupted("the local cloud stopped during the build")
        raise ActionFailed(_failure(build))
    return Outcome(
        summary=f"Build {build_id} succeeded",
        external_id=build_id,
        external_url=url,
        output_variables={v["name"]: v["value"] for v in build.get("exportedEnvironmentVariables", [])},
    )
