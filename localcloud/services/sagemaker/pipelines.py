"""SageMaker Pipelines that run: StartPipelineExecution executes the stored definition.

moto stores pipelines (Create/Update/Describe/ListPipelines stay moto's); executions are ours.
An execution schedules steps as their data and explicit dependencies complete, runs independent
steps side by side, follows condition branches, and persists after every step change, so a
restarted local cloud resumes it: completed steps keep their outputs, the interrupted step reruns.

The definition's shape (branches, dependencies, cycles) is ``pipeline_graph.py``; reusing earlier
runs is ``caching.py``; starting a failed step again is ``retries.py``. An execution that cannot go
on (a step waits for one that will never run) fails naming the steps; it never reports success
with reachable steps unrun.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from moto.backends import get_backend
from moto.sagemaker.exceptions import ValidationError as MotoValidationError
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.utils import get_pipeline_from_name

from localcloud import ACCOUNT_ID
from localcloud.core import clock, names
from localcloud.core import moto_seam as seam
from localcloud.core.errors import AwsError, validation_error
from localcloud.services.sagemaker import caching, retries
from localcloud.services.sagemaker.expressions import ExpressionError, Resolver, typed_parameter
from localcloud.services.sagemaker.pipeline_graph import DefinitionError, PipelineGraph
from localcloud.services.sagemaker.s3io import split_uri
from localcloud.services.sagemaker.steps import StepFailed, run_step

FOLDER = "sagemaker/pipeline-executions"
RUNNING = ("Executing", "Stopping")
FAILURE_REASON_LIMIT = 1024


class Execution:
    """One pipeline execution: its record on disk and the thread that drives it."""

    def __init__(self, service: PipelinesService, record: dict[str, Any]):
        self.service = service
        self.record = record
        self.definition = json.loads(record["PipelineDefinition"])
        self.definition_error: str | None = None
        try:
            self.graph = PipelineGraph(self.definition)
            for node in self.graph.nodes.values():  # settings checked before anything runs
                caching.config(node.step)
                retries.policies(node.step)
        except (DefinitionError, caching.CacheConfigError, retries.RetryPolicyError) as error:
            self.graph = PipelineGraph({"Steps": []})
            self.definition_error = f"The pipeline definition cannot run: {error}"
        self.steps = {name: node.step for name, node in self.graph.nodes.items()}
        self.lock = threading.RLock()
        self._property_files: dict[tuple[str, str], Any] = {}
        self._running: dict[Future, str] = {}
        parameters = {p["Name"]: p["Value"] for p in record["PipelineParameters"]}
        declared = {p["Name"]: p for p in self.definition.get("Parameters", [])}
        self.resolver = Resolver(
            {
                name: typed_parameter(declared.get(name, {"Name": name, "Type": "String"}), value)
                for name, value in parameters.items()
            },
            {
                "PipelineExecutionId": record["PipelineExecutionArn"].rsplit("/", 1)[1],
                "PipelineExecutionArn": record["PipelineExecutionArn"],
                "PipelineName": record["PipelineName"],
                "PipelineArn": record["PipelineArn"],
                "StartDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record["CreationTime"])),
                "CurrentDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            self.step_properties,
            self.read_property_file,
        )

    @property
    def execution_id(self) -> str:
        return self.record["PipelineExecutionArn"].rsplit("/", 1)[1]

    def save(self) -> None:
        with self.lock:
            self.record["LastModifiedTime"] = time.time()
            execution_id = names.PIPELINE_EXECUTION_ID.check(self.execution_id)
            self.service.cloud.state.write_json(f"{FOLDER}/{execution_id}.json", self.record)

    # what steps see ---------------------------------------------------------------------
    def step_properties(self, name: str) -> dict[str, Any]:
        step = self.record["Steps"].get(name)
        if not step or step["StepStatus"] != "Succeeded":
            raise ExpressionError(f"step {name!r} has not succeeded, so its properties are not available")
        return step.get("Properties", {})

    def read_property_file(self, step_name: str, file_name: str) -> Any:
        key = (step_name, file_name)
        if key not in self._property_files:
            if step_name:
                declared = [
                    p for p in self.steps[step_name].get("PropertyFiles", []) if p["PropertyFileName"] == file_name
                ]
                if not declared:
                    raise ExpressionError(f"step {step_name} declares no property file {file_name!r}")
                outputs = self.step_properties(step_name)["ProcessingOutputConfig"]["Outputs"]
                output = next((o for o in outputs if o["OutputName"] == declared[0]["OutputName"]), None)
                if output is None:
                    raise ExpressionError(f"step {step_name} has no output {declared[0]['OutputName']!r}")
                uri = output["S3Output"]["S3Uri"].rstrip("/") + "/" + declared[0]["FilePath"]
            else:
                uri = file_name
            bucket, key_name = split_uri(uri)
            body = self.service.cloud.client("s3").get_object(Bucket=bucket, Key=key_name)["Body"].read()
            try:
                self._property_files[key] = json.loads(body)
            except ValueError as error:
                raise ExpressionError(f"property file {uri} is not JSON: {error}") from error
        return self._property_files[key]

    # what step runners call ---------------------------------------------------------------
    def note_metadata(self, name: str, metadata: dict[str, Any]) -> None:
        """Show the job a step started while it runs (ListPipelineExecutionSteps names it at once)."""
        with self.lock:
            self.record["Steps"][name]["Metadata"] = metadata
            self.save()

    def reuse_cached_run(self, step: dict[str, Any], request: dict[str, Any]) -> tuple[dict, dict] | None:
        """Step caching: the metadata and properties of an equal earlier run, or None to run the job.

        Every job step records its cache key, so a step that turns caching on later can reuse a run
        made before; only a step with caching enabled looks for one."""
        name = step["Name"]
        key = caching.cache_key(step["Type"], request)
        with self.lock:
            self.record["Steps"][name]["CacheKey"] = key
        window = caching.config(step)
        if window is None:
            return None
        others = [
            r
            for r in self.service.cloud.state.list_json(FOLDER)
            if r["PipelineExecutionArn"] != self.record["PipelineExecutionArn"]
        ]
        hit = caching.find_hit(others, self.record["PipelineArn"], name, key, window, time.time())
        if hit is None:
            return None
        source, source_state = hit
        with self.lock:
            self.record["Steps"][name]["CacheHitResult"] = {
                "SourcePipelineExecutionArn": source["PipelineExecutionArn"]
            }
        return source_state["Metadata"], source_state.get("Properties", {})

    # driving ----------------------------------------------------------------------------
    def _statuses(self) -> dict[str, str]:
        return {name: state["StepStatus"] for name, state in self.record["Steps"].items()}

    def _outcomes(self) -> dict[str, bool]:
        """How each condition that has run resolved."""
        return {
            name: state["Metadata"]["Condition"]["Outcome"] == "True"
            for name, state in self.record["Steps"].items()
            if state["StepStatus"] == "Succeeded" and "Condition" in state.get("Metadata", {})
        }

    def runnable(self) -> list[str]:
        """Steps that may start now: on a branch taken, not started, and all they wait for succeeded."""
        states, statuses, outcomes = self.record["Steps"], self._statuses(), self._outcomes()
        ready = []
        for name in self.graph.nodes:
            if name in self._running.values():
                continue
            if name in states and states[name]["StepStatus"] != "Starting":
                continue  # done, failed, or running
            if self.graph.branch_taken(name, outcomes) is not True:
                continue
            if all(statuses.get(needed) == "Succeeded" for needed in self.graph.waits_for(name)):
                ready.append(name)
        return ready

    def unfinished(self) -> str | None:
        """Why the execution cannot finish, if steps on a taken branch are left that will never start."""
        statuses, outcomes = self._statuses(), self._outcomes()
        left = [
            name
            for name in self.graph.nodes
            if statuses.get(name) != "Succeeded" and self.graph.branch_taken(name, outcomes) is True
        ]
        if not left:
            return None
        return f"Steps {', '.join(map(repr, left))} can never run, so the execution cannot finish: " + "; ".join(
            self.graph.stuck(name, outcomes, statuses) for name in left
        )

    def run(self) -> None:
        limit = (self.record.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps", 2)
        failure: str | None = self.definition_error
        with ThreadPoolExecutor(max_workers=max(1, min(limit, 4)), thread_name_prefix="pipeline-step") as pool:
            while True:
                stop_requested = self.record["PipelineExecutionStatus"] == "Stopping"
                if failure is None and not stop_requested and not self.service.cloud.stopping.is_set():
                    for name in self.runnable():
                        self._start(name)
                        self._running[pool.submit(self._run_step, name)] = name
                if not self._running:
                    break
                done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
                for future in done:
                    name = self._running.pop(future)
                    outcome = future.result()
                    if outcome and failure is None:
                        failure = outcome
        if self.service.cloud.stopping.is_set() and failure is None:
            return  # cut off by a shutdown: resume() picks it up on the next start
        with self.lock:
            if failure is None and self.record["PipelineExecutionStatus"] != "Stopping":
                failure = self.unfinished()
            if failure:
                if len(failure) > FAILURE_REASON_LIMIT:  # SageMaker's FailureReason holds 1024 characters
                    failure = failure[: FAILURE_REASON_LIMIT - 3] + "..."
                self.record.update(PipelineExecutionStatus="Failed", FailureReason=failure)
            elif self.record["PipelineExecutionStatus"] == "Stopping":
                self.record["PipelineExecutionStatus"] = "Stopped"
            else:
                self.record["PipelineExecutionStatus"] = "Succeeded"
            self.save()

    def _start(self, name: str) -> None:
        step = self.steps[name]
        with self.lock:
            previous = self.record["Steps"].get(name, {})
            self.record["Steps"][name] = {
                "StepName": name,
                "StepDisplayName": step.get("DisplayName", name),
                "StepType": step["Type"],
                "StepDescription": step.get("Description", ""),
                "StepStatus": "Executing",
                "StartTime": time.time(),
                "AttemptCount": previous.get("AttemptCount", 0) + 1,
                "Metadata": {},
            }
            self.save()

    def _attempt(self, step: dict[str, Any]) -> tuple[str, str | None, dict, dict, str | None]:
        """One attempt: (status, reason, metadata, properties, exception type for retry policies)."""
        try:
            metadata, properties = run_step(self, step)
            return "Succeeded", None, metadata, properties, None
        except StepFailed as failed:
            return "Failed", str(failed), failed.metadata, {}, failed.exception_type
        except ExpressionError as error:
            return "Failed", f"ClientError: {error}", {}, {}, None

    def _wait_to_retry(self, aws_seconds: float) -> bool:
        """Sleep before a retry (on the local time scale); False if a stop came meanwhile."""
        deadline = time.monotonic() + clock.local_seconds(aws_seconds)
        while time.monotonic() < deadline:
            if self.service.cloud.stopping.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
                return False
            if self.record["PipelineExecutionStatus"] == "Stopping":
                return False
        return True

    def _run_step(self, name: str) -> str | None:
        """Run one step, retrying as its policies say; returns the execution's failure reason if this
        step ends the execution."""
        step = self.steps[name]
        state = self.record["Steps"][name]
        declared = retries.policies(step)
        while True:
            status, reason, metadata, properties, exception_type = self._attempt(step)
            if status == "Succeeded" or self.service.cloud.stopping.is_set():
                break
            delay = retries.next_delay(declared, exception_type, state["AttemptCount"] - 1, state["StartTime"])
            if delay is None:
                break
            if not self._wait_to_retry(delay):
                if self.record["PipelineExecutionStatus"] == "Stopping":
                    status, reason = "Stopped", None  # stopped while waiting to retry: nothing more runs
                break
            with self.lock:
                state.update(AttemptCount=state["AttemptCount"] + 1, Metadata={})
                state.pop("CacheHitResult", None)
                self.save()
        if self.service.cloud.stopping.is_set() and status == "Failed":
            return None  # the job died with the server: leave the step to be rerun on resume
        with self.lock:
            state.update(StepStatus=status, EndTime=time.time(), Metadata=metadata, Properties=properties)
            if reason:
                state["FailureReason"] = reason
            self.save()
        if status == "Failed":
            if step["Type"] == "Fail":
                return reason
            return f"Step failure: step '{name}' failed: {reason}"
        return None


class PipelinesService:
    def __init__(self, cloud):
        self.cloud = cloud
        self.executions: dict[str, Execution] = {}
        self.threads: list[threading.Thread] = []

    # API ----------------------------------------------------------------------------------
    def start_execution(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        backend = get_backend("sagemaker")[ACCOUNT_ID][region]
        try:
            pipeline = get_pipeline_from_name(backend.pipelines, body.get("PipelineName", ""))
        except Exception as missing:
            raise AwsError("ResourceNotFound", f"Pipeline '{body.get('PipelineName')}' does not exist.") from missing
        definition = json.loads(pipeline.pipeline_definition)
        declared = {p["Name"]: p for p in definition.get("Parameters", [])}
        overrides = {p["Name"]: p["Value"] for p in body.get("PipelineParameters", [])}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise validation_error(
                f"Pipeline parameters {unknown} are not defined by pipeline "
                f"{pipeline.pipeline_name}; defined: {sorted(declared)}"
            )
        values = {}
        for name, declared_parameter in declared.items():
            try:
                values[name] = typed_parameter(declared_parameter, overrides.get(name))
            except ExpressionError as error:
                raise validation_error(str(error)) from error
        execution_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        arn = f"{pipeline.arn}/execution/{execution_id}"
        now = time.time()
        record = {
            "PipelineArn": pipeline.arn,
            "PipelineName": pipeline.pipeline_name,
            "PipelineExecutionArn": arn,
            "PipelineExecutionDisplayName": body.get("PipelineExecutionDisplayName", f"execution-{int(now * 1000)}"),
            "PipelineExecutionDescription": body.get("PipelineExecutionDescription", ""),
            "PipelineExecutionStatus": "Executing",
            "CreationTime": now,
            "LastModifiedTime": now,
            "PipelineParameters": [{"Name": k, "Value": _text(v)} for k, v in values.items()],
            "ParallelismConfiguration": body.get("ParallelismConfiguration")
            or pipeline.parallelism_configuration
            or {},
            "PipelineDefinition": pipeline.pipeline_definition,
            "Steps": {},
        }
        execution = Execution(self, record)
        execution.save()
        self._launch(execution)
        return {"PipelineExecutionArn": arn}

    def _launch(self, execution: Execution) -> None:
        self.executions[execution.record["PipelineExecutionArn"]] = execution
        thread = threading.Thread(target=execution.run, name=f"pipeline-{execution.execution_id}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _record(self, arn: str) -> dict[str, Any]:
        if arn in self.executions:
            return self.executions[arn].record
        match = re.search(r"/execution/([a-z0-9]{12})$", arn or "")
        path = self.cloud.state.root / FOLDER / f"{match.group(1) if match else '-'}.json"
        if not path.exists():
            raise AwsError("ResourceNotFound", f"Pipeline execution '{arn}' does not exist.")
        return json.loads(path.read_text())

    def describe_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._record(body.get("PipelineExecutionArn", ""))
        keys = (
            "PipelineArn",
            "PipelineExecutionArn",
            "PipelineExecutionDisplayName",
            "PipelineExecutionStatus",
            "PipelineExecutionDescription",
            "FailureReason",
            "CreationTime",
            "LastModifiedTime",
            "ParallelismConfiguration",
        )
        return {k: record[k] for k in keys if record.get(k) not in (None, {})}

    def list_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("PipelineName", "").rsplit("/", 1)[-1]
        records = [r for r in self.cloud.state.list_json(FOLDER) if r["PipelineName"] == name]
        records.sort(key=lambda r: r["CreationTime"], reverse=body.get("SortOrder", "Descending") == "Descending")
        return {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": r["PipelineExecutionArn"],
                    "StartTime": r["CreationTime"],
                    "PipelineExecutionStatus": r["PipelineExecutionStatus"],
                    "PipelineExecutionDisplayName": r["PipelineExecutionDisplayName"],
                    **({"PipelineExecutionFailureReason": r["FailureReason"]} if r.get("FailureReason") else {}),
                }
                for r in records[: body.get("MaxResults", 100)]
            ]
        }

    def list_steps(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._record(body.get("PipelineExecutionArn", ""))
        steps = sorted(
            record["Steps"].values(),
            key=lambda s: s["StartTime"],
            reverse=body.get("SortOrder", "Descending") == "Descending",
        )
        keys = (
            "StepName",
            "StepDisplayName",
            "StepDescription",
            "StartTime",
            "EndTime",
            "StepStatus",
            "FailureReason",
            "Metadata",
            "AttemptCount",
            "CacheHitResult",
        )
        return {"PipelineExecutionSteps": [{k: s[k] for k in keys if k in s} for s in steps]}

    def list_parameters(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"PipelineParameters": self._record(body.get("PipelineExecutionArn", ""))["PipelineParameters"]}

    def definition_for_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self._record(body.get("PipelineExecutionArn", ""))
        return {"PipelineDefinition": record["PipelineDefinition"], "CreationTime": record["CreationTime"]}

    def stop_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = body.get("PipelineExecutionArn", "")
        execution = self.executions.get(arn)
        if not execution or execution.record["PipelineExecutionStatus"] != "Executing":
            raise validation_error(f"Pipeline execution '{arn}' is not executing, so it cannot be stopped.")
        with execution.lock:
            execution.record["PipelineExecutionStatus"] = "Stopping"
            execution.save()
        return {"PipelineExecutionArn": arn}

    # lifecycle ----------------------------------------------------------------------------
    def resume(self) -> None:
        """Executions cut off by a stop go on: completed steps stay, interrupted ones rerun."""
        for record in self.cloud.state.list_json(FOLDER):
            if record["PipelineExecutionStatus"] in RUNNING:
                for state in record["Steps"].values():
                    if state["StepStatus"] in ("Starting", "Executing"):
                        state["StepStatus"] = "Starting"
                self._launch(Execution(self, record))

    def shutdown(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def patch_create_pipeline() -> None:
    """CreatePipeline (moto's) refuses names SageMaker refuses, for the API and CloudFormation alike."""

    def wrap(original):
        def create_pipeline(self, pipeline_name: str, *args, **kwargs):
            problems = names.PIPELINE.problems(pipeline_name)
            if problems:
                raise MotoValidationError(names.invalid(problems).message)
            return original(self, pipeline_name, *args, **kwargs)

        return create_pipeline

    seam.patch(
        SageMakerModelBackend,
        "create_pipeline",
        wrap=wrap,
        why="a pipeline name becomes a folder: SageMaker's name pattern is checked first",
        until="moto validating PipelineName against SageMaker's pattern",
    )


def install(cloud) -> PipelinesService:
    patch_create_pipeline()
    service = PipelinesService(cloud)
    routes = {
        "StartPipelineExecution": lambda call: service.start_execution(call.body, call.region),
        "DescribePipelineExecution": lambda call: service.describe_execution(call.body),
        "ListPipelineExecutions": lambda call: service.list_executions(call.body),
        "ListPipelineExecutionSteps": lambda call: service.list_steps(call.body),
        "ListPipelineParametersForExecution": lambda call: service.list_parameters(call.body),
        "DescribePipelineDefinitionForExecution": lambda call: service.definition_for_execution(call.body),
        "StopPipelineExecution": lambda call: service.stop_execution(call.body),
    }
    for operation, handler in routes.items():
        cloud.gateway.json("SageMaker", operation)(handler)
    return service
