"""CodePipeline's execution operations, served from our execution records.

Pipelines themselves stay in moto's backend (GetPipeline, UpdatePipeline...). CreatePipeline goes
through moto's backend too, and then starts the pipeline once, as CodePipeline does on creation
(trigger ``CreatePipeline``); so does a pipeline a CloudFormation stack creates (``cfn.py``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from moto.backends import get_backend
from moto.core.exceptions import JsonRESTError

from localcloud import ACCOUNT_ID
from localcloud.core import names
from localcloud.core.errors import AwsError
from localcloud.services.codepipeline.engine import FOLDER, Execution, StageGate
from localcloud.services.codepipeline.transitions import Transitions

MODES = ("SUPERSEDED", "QUEUED", "PARALLEL")


def _error(code: str, message: str) -> AwsError:
    return AwsError(code, message)


class CodePipelineService:
    def __init__(self, cloud):
        self.cloud = cloud
        self.executions: dict[str, Execution] = {}
        self.threads: list[threading.Thread] = []
        self._gates: dict[str, StageGate] = {}
        self._lock = threading.RLock()
        self.transitions = Transitions(cloud, self)

    def gate(self, pipeline_name: str) -> StageGate:
        with self._lock:
            return self._gates.setdefault(pipeline_name, StageGate())

    @staticmethod
    def pipeline(name: str, region: str) -> tuple[dict[str, Any], dict[str, Any]]:
        backend = get_backend("codepipeline")[ACCOUNT_ID][region]
        found = backend.pipelines.get(name)
        if found is None:
            raise _error(
                "PipelineNotFoundException",
                f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{name}'",
            )
        return found.pipeline, found.metadata

    # records ------------------------------------------------------------------------------
    def records(self, pipeline_name: str) -> list[dict[str, Any]]:
        live = {e.execution_id: e.record for e in self.executions.values() if e.pipeline_name == pipeline_name}
        stored = [r for r in self.cloud.state.list_json(FOLDER) if r["pipelineName"] == pipeline_name]
        merged = [live.get(r["pipelineExecutionId"], r) for r in stored]
        return sorted(merged, key=lambda r: r["startTime"], reverse=True)

    def execution(self, pipeline_name: str, execution_id: str) -> dict[str, Any]:
        names.CODEPIPELINE_EXECUTION_ID.check(execution_id)  # ids are ours (uuid4) and name record files
        live = self.executions.get(execution_id)
        if live and live.pipeline_name == pipeline_name:
            return live.record
        path = self.cloud.state.root / FOLDER / f"{execution_id}.json"
        record = json.loads(path.read_text()) if path.exists() else None
        if not record or record["pipelineName"] != pipeline_name:
            raise _error(
                "PipelineExecutionNotFoundException",
                f"Pipeline execution {execution_id} of pipeline {pipeline_name} does not exist",
            )
        return record

    # starting -----------------------------------------------------------------------------
    def start(self, name: str, region: str, trigger: dict[str, str], body: dict[str, Any] | None = None) -> str:
        pipeline, _ = self.pipeline(name, region)
        body = body or {}
        declared = {v["name"]: v for v in pipeline.get("variables") or []}
        given = {v["name"]: v["value"] for v in body.get("variables") or []}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise _error(
                "ValidationException",
                f"variables {unknown} are not declared by pipeline {name}; declared: {sorted(declared)}",
            )
        resolved = []
        for var_name, spec in declared.items():
            value = given.get(var_name, spec.get("defaultValue"))
            if value is None:
                raise _error(
                    "ValidationException",
                    f"variable {var_name} of pipeline {name} has no default value: "
                    "pass it in StartPipelineExecution's variables",
                )
            resolved.append({"name": var_name, "resolvedValue": value})
        mode = pipeline.get("executionMode", "SUPERSEDED")
        if mode not in MODES:
            raise _error("ValidationException", f"executionMode {mode} is not one of {MODES}")
        now = time.time()
        record = {
            "pipelineName": name,
            "pipelineVersion": pipeline.get("version", 1),
            "pipelineExecutionId": str(uuid.uuid4()),
            "status": "InProgress",
            "statusSummary": "",
            "trigger": trigger,
            "executionMode": mode,
            "executionType": "STANDARD",
            "startTime": now,
            "lastUpdateTime": now,
            "region": region,
            "pipeline": json.loads(json.dumps(pipeline, default=str)),
            "variables": resolved,
            "artifactRevisions": [],
            "stages": {},
            "namespaces": {},
            "artifacts": {},
            "resumeFrom": None,
        }
        execution = Execution(self, record)
        execution.save()
        self._launch(execution)
        return execution.execution_id

    def start_on_creation(self, name: str, region: str, created_by: str) -> str:
        """The run CodePipeline starts by itself when a pipeline is created."""
        return self.start(name, region, {"triggerType": "CreatePipeline", "triggerDetail": created_by})

    def _launch(self, execution: Execution) -> None:
        self.executions[execution.execution_id] = execution
        thread = threading.Thread(
            target=self._drive,
            args=(execution,),
            daemon=True,
            name=f"codepipeline-{execution.execution_id[:8]}",
        )
        self.threads.append(thread)
        thread.start()

    def _drive(self, execution: Execution) -> None:
        try:
            execution.run()
        finally:
            if execution.record["status"] not in ("InProgress", "Stopping"):
                self.executions.pop(execution.execution_id, None)

    def supersede(self, pipeline_name: str, older_id: str, newer_id: str) -> None:
        older = self.executions.get(older_id)
        if older and older.pipeline_name == pipeline_name:
            older.superseded = True
            older.record["supersededBy"] = newer_id

    # API ----------------------------------------------------------------------------------
    def create_pipeline(self, body: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        backend = get_backend("codepipeline")[account][region]
        try:
            pipeline, tags = backend.create_pipeline(body.get("pipeline") or {}, body.get("tags"))
        except JsonRESTError as error:
            raise _error(error.error_type, error.message) from None
        except (KeyError, TypeError) as error:
            raise _error(
                "ValidationException",
                f"the pipeline declaration lacks {error}: CreatePipeline needs pipeline.name, roleArn, "
                "artifactStore and stages",
            ) from None
        self.start_on_creation(pipeline["name"], region, f"arn:aws:iam::{account}:root")
        return {"pipeline": pipeline, "tags": tags}

    def start_execution(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        trigger = {"triggerType": "StartPipelineExecution", "triggerDetail": "localcloud"}
        return {"pipelineExecutionId": self.start(body.get("name", ""), region, trigger, body)}

    def get_pipeline_state(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        name = body.get("name", "")
        pipeline, metadata = self.pipeline(name, region)
        records = self.records(name)
        stage_states = []
        for stage in pipeline["stages"]:
            latest = next(
                (
                    r
                    for r in sorted(
                        records,
                        key=lambda r: r["stages"].get(stage["name"], {}).get("startTime", 0),
                        reverse=True,
                    )
                    if stage["name"] in r["stages"]
                ),
                None,
            )
            state: dict[str, Any] = {
                "stageName": stage["name"],
                "inboundTransitionState": self.transitions.inbound_state(region, name, stage["name"]),
                "actionStates": [],
            }
            if latest:
                stage_record = latest["stages"][stage["name"]]
                state["latestExecution"] = {
                    "pipelineExecutionId": latest["pipelineExecutionId"],
                    "status": stage_record["status"],
                }
            for action in stage["actions"]:
                action_state: dict[str, Any] = {"actionName": action["name"]}
                found = latest["stages"][stage["name"]]["actions"].get(action["name"]) if latest else None
                if found:
                    action_state["latestExecution"] = _action_latest(found)
                state["actionStates"].append(action_state)
            stage_states.append(state)
        return {
            "pipelineName": name,
            "pipelineVersion": pipeline.get("version", 1),
            "stageStates": stage_states,
            "created": metadata["created"],
            "updated": metadata["updated"],
        }

    def get_pipeline_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self.execution(body.get("pipelineName", ""), body.get("pipelineExecutionId", ""))
        return {
            "pipelineExecution": {
                **{
                    k: record[k]
                    for k in (
                        "pipelineName",
                        "pipelineVersion",
                        "pipelineExecutionId",
                        "status",
                        "statusSummary",
                        "trigger",
                        "executionMode",
                        "executionType",
                    )
                },
                "artifactRevisions": record["artifactRevisions"],
                "variables": record["variables"],
            }
        }

    def list_pipeline_executions(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        name = body.get("pipelineName", "")
        self.pipeline(name, region)
        summaries = []
        for record in self.records(name)[: body.get("maxResults", 100)]:
            summary = {
                k: record[k]
                for k in (
                    "pipelineExecutionId",
                    "status",
                    "startTime",
                    "lastUpdateTime",
                    "trigger",
                    "executionMode",
                    "executionType",
                )
            }
            summary["statusSummary"] = record["statusSummary"]
            summary["sourceRevisions"] = [
                {
                    "actionName": r["name"],
                    "revisionId": r["revisionId"],
                    "revisionSummary": r.get("revisionSummary", ""),
                }
                for r in record["artifactRevisions"]
            ]
            if record.get("stopTrigger"):
                summary["stopTrigger"] = {"reason": record["stopTrigger"].get("reason", "")}
            summaries.append(summary)
        return {"pipelineExecutionSummaries": summaries}

    def list_action_executions(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        name = body.get("pipelineName", "")
        pipeline, _ = self.pipeline(name, region)
        wanted = (body.get("filter") or {}).get("pipelineExecutionId")
        types = {(s["name"], a["name"]): a for s in pipeline["stages"] for a in s["actions"]}
        details = []
        for record in self.records(name):
            if wanted and record["pipelineExecutionId"] != wanted:
                continue
            for stage_name, stage in record["stages"].items():
                for action_name, state in stage["actions"].items():
                    action = types.get((stage_name, action_name), {})
                    details.append(_action_detail(record, stage_name, action_name, state, action))
        details.sort(key=lambda d: d["startTime"], reverse=True)
        return {"actionExecutionDetails": details}

    def put_approval_result(self, body: dict[str, Any]) -> dict[str, Any]:
        name, stage, action = (
            body.get("pipelineName", ""),
            body.get("stageName", ""),
            body.get("actionName", ""),
        )
        result = body.get("result") or {}
        if result.get("status") not in ("Approved", "Rejected"):
            raise _error("ValidationException", "result.status must be Approved or Rejected")
        for execution in list(self.executions.values()):
            if execution.pipeline_name != name:
                continue
            state = execution.record["stages"].get(stage, {}).get("actions", {}).get(action)
            if state and state.get("status") == "InProgress" and state.get("token"):
                if state["token"] != body.get("token"):
                    raise _error(
                        "InvalidApprovalTokenException",
                        f"The token {body.get('token')} is not the token of the approval awaited by "
                        f"{stage}/{action}; read the current token from GetPipelineState",
                    )
                with execution.lock:
                    state["approvalResult"] = {
                        "status": result["status"],
                        "summary": result.get("summary", ""),
                        "approvedAt": time.time(),
                    }
                    execution.save()
                return {"approvedAt": time.time()}
        self.pipeline(name, self._region_of(name))
        if not any(
            stage == s["name"] and any(a["name"] == action for a in s["actions"])
            for s in self.pipeline(name, self._region_of(name))[0]["stages"]
        ):
            raise _error("ActionNotFoundException", f"Pipeline {name} has no action {stage}/{action}")
        raise _error(
            "ApprovalAlreadyCompletedException" if body.get("token") else "InvalidApprovalTokenException",
            f"No approval is awaited by {stage}/{action} of pipeline {name}",
        )

    def _region_of(self, name: str) -> str:
        for region, backend in get_backend("codepipeline")[ACCOUNT_ID].items():
            if name in backend.pipelines:
                return region
        raise _error("PipelineNotFoundException", f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{name}'")

    def stop_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        name, execution_id = body.get("pipelineName", ""), body.get("pipelineExecutionId", "")
        record = self.execution(name, execution_id)
        execution = self.executions.get(execution_id)
        if execution is None or record["status"] != "InProgress":
            raise _error(
                "PipelineExecutionNotStoppableException",
                f"Pipeline execution {execution_id} is {record['status']}, so it cannot be stopped",
            )
        with execution.lock:
            record["stopTrigger"] = {"reason": body.get("reason", ""), "abandon": bool(body.get("abandon"))}
            record["status"] = "Stopping"
            execution.save()
        return {"pipelineExecutionId": execution_id}

    def retry_stage(self, body: dict[str, Any]) -> dict[str, Any]:
        name, stage, execution_id = (
            body.get("pipelineName", ""),
            body.get("stageName", ""),
            body.get("pipelineExecutionId", ""),
        )
        record = self.execution(name, execution_id)
        stage_state = record["stages"].get(stage)
        if record["status"] != "Failed" or not stage_state or stage_state["status"] != "Failed":
            raise _error(
                "StageNotRetryableException",
                f"Stage {stage} of execution {execution_id} has not failed, so it cannot be retried",
            )
        mode = body.get("retryMode", "FAILED_ACTIONS")
        for action_state in stage_state["actions"].values():
            if mode == "ALL_ACTIONS" or action_state["status"] != "Succeeded":
                action_state["status"] = "Retrying"
        record.update(status="InProgress", statusSummary="", resumeFrom=stage)
        stage_state["status"] = "InProgress"
        execution = Execution(self, record)
        execution.save()
        self._launch(execution)
        return {"pipelineExecutionId": execution_id}

    # lifecycle ----------------------------------------------------------------------------
    def resume(self) -> None:
        pending = [r for r in self.cloud.state.list_json(FOLDER) if r["status"] in ("InProgress", "Stopping")]
        for record in sorted(pending, key=lambda r: r["startTime"]):
            if record["pipelineExecutionId"] not in self.executions:
                self._launch(Execution(self, record))

    def shutdown(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)


def _action_latest(state: dict[str, Any]) -> dict[str, Any]:
    latest = {
        "actionExecutionId": state.get("actionExecutionId", ""),
        "status": state["status"],
        "lastStatusChange": state.get("lastStatusChange"),
    }
    for key in ("summary", "token", "externalExecutionId", "externalExecutionUrl", "errorDetails"):
        if state.get(key):
            latest[key] = state[key]
    return latest


def _action_detail(
    record: dict[str, Any], stage: str, name: str, state: dict[str, Any], action: dict[str, Any]
) -> dict[str, Any]:
    given = state.get("input") or {}
    return {
        "pipelineExecutionId": record["pipelineExecutionId"],
        "actionExecutionId": state.get("actionExecutionId", ""),
        "pipelineVersion": record["pipelineVersion"],
        "stageName": stage,
        "actionName": name,
        "startTime": state.get("startTime", record["startTime"]),
        "lastUpdateTime": state.get("lastStatusChange"),
        "status": state["status"],
        "input": {
            "actionTypeId": action.get("actionTypeId", {}),
            "configuration": given.get("configuration", {}),
            "resolvedConfiguration": given.get("resolvedConfiguration", {}),
            "region": record["region"],
            "inputArtifacts": given.get("inputArtifacts", []),
            "namespace": action.get("namespace", ""),
        },
        "output": {
            "outputArtifacts": state.get("outputArtifacts", []),
            "executionResult": {
                k: v
                for k, v in {
                    "externalExecutionId": state.get("externalExecutionId"),
                    "externalExecutionSummary": state.get("summary"),
                    "externalExecutionUrl": state.get("externalExecutionUrl"),
                    "errorDetails": state.get("errorDetails"),
                }.items()
                if v
            },
            "outputVariables": state.get("outputVariables", {}),
        },
    }
