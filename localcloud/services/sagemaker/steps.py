"""What each pipeline step type does when it runs.

Every runner takes the execution and the step's definition, and returns the step's metadata (as
``ListPipelineExecutionSteps`` shows it) and its properties (what later steps can ``Get``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError


class StepFailed(Exception):
    def __init__(self, message: str, metadata: dict[str, Any] | None = None):
        super().__init__(message)
        self.metadata = metadata or {}


def job_name(execution, step_name: str) -> str:
    """SageMaker names a pipeline's jobs after the execution and the step, within 63 characters."""
    safe = re.sub(r"[^a-zA-Z0-9-]", "-", step_name)
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6))
    return f"pipelines-{execution.execution_id}-{safe}"[:55] + f"-{suffix}"


def _job_step(label: str):
    """A step that runs a SageMaker job ("Processing" or "Training") and exposes its description."""

    def run(execution, step) -> tuple[dict, dict]:
        runner = execution.service.cloud.jobs.runner
        request = execution.resolver.resolve(step["Arguments"])
        request[f"{label}JobName"] = job_name(execution, step["Name"])
        make_record = runner.processing_record if label == "Processing" else runner.training_record
        record = make_record(request, _region(execution))
        record["PipelineExecutionArn"] = execution.record["PipelineExecutionArn"]
        metadata = {f"{label}Job": {"Arn": record[f"{label}JobArn"]}}
        record = (runner.run_processing if label == "Processing" else runner.run_training)(record)
        if record[f"{label}JobStatus"] != "Completed":
            raise StepFailed(record.get("FailureReason", f"{label.lower()} job failed"), metadata)
        return metadata, record

    return run


processing = _job_step("Processing")
training = _job_step("Training")


def condition(execution, step) -> tuple[dict, dict]:
    outcome = all(execution.resolver.condition(c) for c in step["Arguments"]["Conditions"])
    return {"Condition": {"Outcome": str(outcome)}}, {"Outcome": outcome}


def register_model(execution, step) -> tuple[dict, dict]:
    request = execution.resolver.resolve(step["Arguments"])
    sagemaker = execution.service.cloud.client("sagemaker", _region(execution))
    try:
        arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    except (ClientError, ParamValidationError) as error:
        raise StepFailed(f"ClientError: could not register the model: {error}") from error
    return {"RegisterModel": {"Arn": arn}}, {"ModelPackageArn": arn}


def create_model(execution, step) -> tuple[dict, dict]:
    request = execution.resolver.resolve(step["Arguments"])
    request.setdefault("ModelName", job_name(execution, step["Name"]))
    sagemaker = execution.service.cloud.client("sagemaker", _region(execution))
    try:
        arn = sagemaker.create_model(**request)["ModelArn"]
    except (ClientError, ParamValidationError) as error:
        raise StepFailed(f"ClientError: could not create the model: {error}") from error
    return {"Model": {"Arn": arn}}, {"ModelName": request["ModelName"]}


def fail(execution, step) -> tuple[dict, dict]:
    message = execution.resolver.resolve(step["Arguments"].get("ErrorMessage", ""))
    raise StepFailed(str(message), {"Fail": {"ErrorMessage": str(message)}})


RUNNERS = {
    "Processing": processing,
    "Training": training,
    "Condition": condition,
    "RegisterModel": register_model,
    "Model": create_model,
    "Fail": fail,
}


def run_step(execution, step) -> tuple[dict, dict]:
    runner = RUNNERS.get(step["Type"])
    if runner is None:
        raise StepFailed(
            f"step type {step['Type']!r} is not supported by the local cloud (supported: {', '.join(sorted(RUNNERS))})"
        )
    return runner(execution, step)


def _region(execution) -> str:
    return execution.record["PipelineArn"].split(":")[3]
