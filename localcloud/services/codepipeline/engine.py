"""Pipeline executions: stages in order, actions by run order, artifacts and variables between them.

An execution's record (the answer to GetPipelineExecution plus its stages' and actions' states)
is saved after every change, so a restarted local cloud resumes it: completed actions keep their
outputs, an interrupted action re-runs, a waiting approval goes on waiting with the same token.
Stages are gated per pipeline as CodePipeline's execution modes gate them (SUPERSEDED by default:
an execution waiting for a stage is superseded by a newer one that arrives to wait there too; QUEUED:
waiting executions enter one by one in the order they arrived), and by transitions a user disabled
(``transitions.py``): an execution waits at a disabled one.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any

from localcloud.services.codepipeline import actions, artifacts, variables
from localcloud.services.codepipeline.actions import ActionContext, ActionFailed, Interrupted

FOLDER = "codepipeline/executions"


class StageGate:
    """Which execution holds each stage of one pipeline, and who waits for it.

    SUPERSEDED: an execution waiting for a stage is superseded by a newer one that arrives to wait
    there too. QUEUED: waiting executions enter in the order they arrived, none is superseded.
    PARALLEL: stages are not locked at all.
    """

    def __init__(self):
        self.owners: dict[str, str] = {}
        self.waiting: dict[str, list[str]] = {}
        self.condition = threading.Condition()

    def _may_enter(self, execution: Execution, stage: str, queue: list[str]) -> bool:
        me = execution.execution_id
        if self.owners.get(stage) not in (None, me) or execution.held_before(stage):
            return False
        return execution.record["executionMode"] != "QUEUED" or not queue or queue[0] == me

    def enter(self, execution: Execution, stage: str) -> bool:
        """Wait for the stage; False if the execution was superseded or stopped meanwhile."""
        mode = execution.record["executionMode"]
        if mode == "PARALLEL":
            return True
        me = execution.execution_id
        with self.condition:
            queue = self.waiting.setdefault(stage, [])
            while not self._may_enter(execution, stage, queue):
                # checked first: a superseded execution is no longer in the queue, and must not
                # take it back by superseding the execution that superseded it
                if execution.superseded or execution.should_stop():
                    if me in queue:
                        queue.remove(me)
                    self.condition.notify_all()
                    return False
                if me not in queue:
                    if mode == "SUPERSEDED":
                        for older in queue:
                            execution.service.supersede(execution.pipeline_name, older, me)
                        queue.clear()
                    queue.append(me)
                self.condition.wait(0.2)
            if me in queue:
                queue.remove(me)
            self.owners[stage] = me
            return True

    def leave(self, execution: Execution, stage: str) -> None:
        with self.condition:
            if self.owners.get(stage) == execution.execution_id:
                del self.owners[stage]
            self.condition.notify_all()


class Execution:
    def __init__(self, service, record: dict[str, Any]):
        self.service = service
        self.record = record
        self.lock = threading.RLock()
        self.superseded = False

    @property
    def execution_id(self) -> str:
        return self.record["pipelineExecutionId"]

    @property
    def pipeline_name(self) -> str:
        return self.record["pipelineName"]

    def save(self) -> None:
        with self.lock:
            self.record["lastUpdateTime"] = time.time()
            self.service.cloud.state.write_json(f"{FOLDER}/{self.execution_id}.json", self.record)

    def held_before(self, stage: str) -> str | None:
        """Why the execution may not enter ``stage`` yet: a disabled transition (None: it may)."""
        stage_names = [s["name"] for s in self.record["pipeline"]["stages"]]
        return self.service.transitions.blocked(self.record["region"], self.pipeline_name, stage_names, stage)

    def should_stop(self) -> bool:
        if self.service.cloud.stopping.is_set():
            return True
        return self.record["status"] == "Stopping" and self.record.get("stopTrigger", {}).get("abandon", False)

    # driving ----------------------------------------------------------------------------
    def run(self) -> None:
        gate = self.service.gate(self.pipeline_name)
        try:
            self._run(gate)
        except Exception as error:  # a bug of ours must not leave the execution InProgress forever
            if not self.service.cloud.stopping.is_set():
                self._finish("Failed", f"local cloud error: {error!r}")
            raise

    def _run(self, gate: StageGate) -> None:
        pipeline = self.record["pipeline"]
        start = self.record.get("resumeFrom")
        stages = pipeline["stages"]
        if start:
            stages = stages[[s["name"] for s in stages].index(start) :]
        for stage in stages:
            if self.record["status"] == "Stopping":
                return self._finish("Stopped", self.record.get("stopTrigger", {}).get("reason", ""))
            if not gate.enter(self, stage["name"]):
                if self.service.cloud.stopping.is_set():
                    return None
                if self.superseded:
                    return self._finish("Superseded", f"superseded by {self.record.get('supersededBy', '')}")
                return self._finish("Stopped", self.record.get("stopTrigger", {}).get("reason", ""))
            try:
                outcome = self._run_stage(stage)
            finally:
                gate.leave(self, stage["name"])
            if outcome == "interrupted":
                if self.service.cloud.stopping.is_set():
                    return None
                return self._finish("Stopped", self.record.get("stopTrigger", {}).get("reason", ""))
            if outcome != "Succeeded":
                return self._finish("Failed", outcome)
        return self._finish("Stopped" if self.record["status"] == "Stopping" else "Succeeded", "")

    def _finish(self, status: str, summary: str) -> None:
        with self.lock:
            self.record.update(status=status, statusSummary=summary, resumeFrom=None)
            self.save()

    def _run_stage(self, stage: dict[str, Any]) -> str:
        """Run the stage's actions; returns 'Succeeded', 'interrupted' or the failure summary."""
        with self.lock:
            self.record["resumeFrom"] = stage["name"]
            state = self.record["stages"].setdefault(stage["name"], {"actions": {}})
            state.update(status="InProgress", startTime=time.time(), executionId=self.execution_id)
            self.save()
        ordered = sorted(stage["actions"], key=lambda a: a.get("runOrder", 1))
        failure = None
        for _, group in groupby(ordered, key=lambda a: a.get("runOrder", 1)):
            group = list(group)
            with ThreadPoolExecutor(max_workers=len(group), thread_name_prefix="pipeline-action") as pool:
                results = list(pool.map(lambda a: self._run_action(stage["name"], a), group))
            if "interrupted" in results:
                if not self.service.cloud.stopping.is_set():
                    self._stage_status(stage["name"], "Stopped")
                return "interrupted"
            failure = next((r for r in results if r is not None), None)
            if failure:
                break
        self._stage_status(stage["name"], "Failed" if failure else "Succeeded")
        return failure or "Succeeded"

    def _stage_status(self, stage: str, status: str) -> None:
        with self.lock:
            self.record["stages"][stage].update(status=status, endTime=time.time())
            self.save()

    def _run_action(self, stage: str, action: dict[str, Any]) -> str | None:
        """Run one action; None on success, 'interrupted', or the failure summary."""
        states = self.record["stages"][stage]["actions"]
        previous = states.get(action["name"], {})
        if previous.get("status") == "Succeeded" and previous.get("executionId") == self.execution_id:
            return None  # done before a restart or a retry of failed actions
        waiting = (
            previous.get("status") == "InProgress"
            and previous.get("token")
            and previous.get("executionId") == self.execution_id
        )
        cut_off = previous.get("status") == "InProgress" and previous.get("executionId") == self.execution_id
        with self.lock:
            state = previous if waiting else {}
            state.update(status="InProgress", lastStatusChange=time.time(), executionId=self.execution_id)
            if not waiting:
                state["actionExecutionId"] = str(uuid.uuid4())
                state["startTime"] = time.time()
                if cut_off and previous.get("externalExecutionId"):
                    # what the action had started before a restart cut it off: its provider decides
                    state["interruptedExternalId"] = previous["externalExecutionId"]
            states[action["name"]] = state
            self.save()
        try:
            context = self._context(stage, action, state)
            outcome = actions.provider(action)(context)
        except Interrupted:
            if self.service.cloud.stopping.is_set():
                return "interrupted"
            self._action_done(state, "Abandoned", summary="Abandoned")
            return "interrupted"
        except (ActionFailed, variables.UnresolvedVariable, artifacts.ArtifactStoreError) as failure:
            code = getattr(failure, "code", "ConfigurationError")
            self._action_done(state, "Failed", error={"code": code, "message": str(failure)[:5000]})
            return f"Action {action['name']} in stage {stage} failed: {failure}"
        with self.lock:
            if action.get("namespace"):
                self.record["namespaces"][action["namespace"]] = outcome.output_variables
            if outcome.revision:
                revision = {
                    "name": next(iter(context.outputs), action["name"]),
                    **outcome.revision,
                    "created": time.time(),
                }
                self.record["artifactRevisions"] = [
                    r for r in self.record["artifactRevisions"] if r["name"] != revision["name"]
                ] + [revision]
            self._action_done(
                state,
                "Succeeded",
                summary=outcome.summary,
                variables=outcome.output_variables,
                external_id=outcome.external_id,
                external_url=outcome.external_url,
            )
        return None

    def _action_done(
        self,
        state: dict[str, Any],
        status: str,
        summary: str = "",
        error: dict | None = None,
        variables: dict | None = None,
        external_id: str = "",
        external_url: str = "",
    ) -> None:
        with self.lock:
            state.update(status=status, lastStatusChange=time.time(), endTime=time.time())
            if status != "InProgress":
                state.pop("token", None)
            if summary:
                state["summary"] = summary
            if error:
                state["errorDetails"] = error
            if variables is not None:
                state["outputVariables"] = variables
            if external_id:
                state["externalExecutionId"] = external_id
            if external_url:
                state["externalExecutionUrl"] = external_url
            self.save()

    def _context(self, stage: str, action: dict[str, Any], state: dict[str, Any]) -> ActionContext:
        region = action.get("region") or self.record["region"]
        bucket = artifacts.store_bucket(self.record["pipeline"], region)
        namespaces = {
            **self.record["namespaces"],
            "codepipeline": {"PipelineExecutionId": self.execution_id},
            "variables": {v["name"]: v["resolvedValue"] for v in self.record.get("variables", [])},
        }
        configuration = variables.resolve(action.get("configuration") or {}, namespaces)
        inputs = {}
        for artifact in action.get("inputArtifacts") or []:
            found = self.record["artifacts"].get(artifact["name"])
            if not found:
                raise ActionFailed(
                    f"input artifact {artifact['name']} has not been produced by an earlier action",
                    "ConfigurationError",
                )
            inputs[artifact["name"]] = found
        outputs = {}
        with self.lock:
            for artifact in action.get("outputArtifacts") or []:
                location = artifacts.location(bucket, artifacts.new_key(self.pipeline_name, artifact["name"]))
                self.record["artifacts"][artifact["name"]] = location
                outputs[artifact["name"]] = location
            state["input"] = {
                "configuration": action.get("configuration") or {},
                "resolvedConfiguration": configuration,
                "inputArtifacts": [{"name": n, "s3location": loc} for n, loc in inputs.items()],
            }
            state["outputArtifacts"] = [{"name": n, "s3location": loc} for n, loc in outputs.items()]
            self.save()
        return ActionContext(
            cloud=self.service.cloud,
            region=region,
            pipeline_name=self.pipeline_name,
            execution_id=self.execution_id,
            stage_name=stage,
            action=action,
            configuration=configuration,
            bucket=bucket,
            inputs=inputs,
            outputs=outputs,
            state=state,
            should_stop=self.should_stop,
            save=self.save,
        )
