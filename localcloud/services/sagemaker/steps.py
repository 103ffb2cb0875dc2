"""What each pipeline step type does when it runs.

Every runner takes the execution and the step's definition, and returns the step's metadata (as
``ListPipelineExecutionSteps`` shows it) and its properties (what later steps can ``Get``). A runner
that fails raises ``StepFailed`` with SageMaker's reason and, when SageMaker would classify it for a
retry policy, the exception type (``retries.py``).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from localcloud.core.errors import AwsError
from localcloud.services.sagemaker import lambda_steps
from localcloud.services.sagemaker.retries import classify_client_error, classify_job_failure


class StepFailed(Exception):
    def __init__(self, message: str, metadata: dict[str, Any] | None = None, exception_type: str | None = None):
        super().__init__(message)
        self.metadata = metadata or {}
        self.exception_type = exception_type


def job_name(execution, step_name: str) -> str:
    """SageMaker names a pipeline's jobs after the execution and the step, within 63 characters."""
    safe = re.sub(r"[^a-zA-Z0-9-]", "-", step_name)
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6))
    return f"pipelines-{execution.execution_id}-{safe}"[:55] + f"-{suffix}"


def _job_step(label: str):
    """A step that runs a SageMaker job ("Processing" or "Training") and exposes its description.

    An equal earlier run (step caching) is reused instead: no job starts."""

    def run(execution, step) -> tuple[dict, dict]:
        runner = execution.service.cloud.jobs.runner
        request = execution.resolver.resolve(step["Arguments"])
        reused = execution.reuse_cached_run(step, request)
        if reused is not None:
            return reused
        request[f"{label}JobName"] = job_name(execution, step["Name"])
        make_record = runner.processing_record if label == "Processing" else runner.training_record
        record = make_record(request, _region(execution))
        record["PipelineExecutionArn"] = execution.record["PipelineExecutionArn"]
        metadata = {f"{label}Job": {"Arn": record[f"{label}JobArn"]}}
        execution.note_metadata(step["Name"], metadata)
        record = (runner.run_processing if label == "Processing" else runner.run_training)(record)
        if record[f"{label}JobStatus"] != "Completed":
            reason = record.get("FailureReason", f"{label.lower()} job failed")
            raise StepFailed(reason, metadata, classify_job_failure(reason))
        return metadata, record

    return run


processing = _job_step("Processing")
training = _job_step("Training")


def condition(execution, step) -> tuple[dict, dict]:
    outcome = all(execution.resolver.condition(c) for c in step["Arguments"]["Conditions"])
    return {"Condition": {"Outcome": str(outcome)}}, {"Outcome": outcome}


def _api_failure(action: str, error: Exception) -> StepFailed:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return StepFailed(
            f"ClientError: could not {action}: {error}", exception_type=classify_client_error(code, status)
        )
    return StepFailed(f"ClientError: could not {action}: {error}")


def register_model(execution, step) -> tuple[dict, dict]:
    request = execution.resolver.resolve(step["Arguments"])
    sagemaker = execution.service.cloud.client("sagemaker", _region(execution))
    try:
        arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    except (ClientError, ParamValidationError) as error:
        raise _api_failure("register the model", error) from error
    return {"RegisterModel": {"Arn": arn}}, {"ModelPackageArn": arn}


def create_model(execution, step) -> tuple[dict, dict]:
    request = execution.resolver.resolve(step["Arguments"])
    request.setdefault("ModelName", job_name(execution, step["Name"]))
    sagemaker = execution.service.cloud.client("sagemaker", _region(execution))
    try:
        arn = sagemaker.create_model(**request)["ModelArn"]
    except (ClientError, ParamValidationError) as error:
        raise _api_failure("create the model", error) from error
    return {"Model": {"Arn": arn}}, {"ModelName": request["ModelName"]}


def _short_job_name(execution, step_name: str, limit: int) -> str:
    """A tuning job name (32 characters at most): the step, then the execution id and a random suffix."""
    safe = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9-]", "-", step_name)).strip("-") or "step"
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(4))
    tail = f"-{execution.execution_id}-{suffix}"
    return safe[: limit - len(tail)].rstrip("-") + tail


def _refused(action: str, error: AwsError) -> StepFailed:
    return StepFailed(f"ClientError: could not {action}: {error.message}")


def tuning(execution, step) -> tuple[dict, dict]:
    """A hyperparameter tuning job, through the tuning service; its properties are the Describe response
    and the best training jobs first (``TrainingJobSummaries[0]`` is the best, as SageMaker keeps them)."""
    from localcloud.services.sagemaker.tuning import TuningService

    service = execution.service.cloud.service(TuningService)
    request = execution.resolver.resolve(step["Arguments"])
    reused = execution.reuse_cached_run(step, request)
    if reused is not None:
        return reused
    request["HyperParameterTuningJobName"] = _short_job_name(execution, step["Name"], 32)
    try:
        record = service.new_record(request, _region(execution))
    except AwsError as error:
        raise _refused("create the hyperparameter tuning job", error) from None
    record["PipelineExecutionArn"] = execution.record["PipelineExecutionArn"]
    service.save(record)
    metadata = {"TuningJob": {"Arn": record["HyperParameterTuningJobArn"]}}
    execution.note_metadata(step["Name"], metadata)
    record = service.run(record)
    if record["HyperParameterTuningJobStatus"] != "Completed":
        reason = record.get("FailureReason", f"the tuning job ended {record['HyperParameterTuningJobStatus']}")
        raise StepFailed(reason, metadata, classify_job_failure(reason))
    return metadata, service.step_properties(record["HyperParameterTuningJobName"])


def transform(execution, step) -> tuple[dict, dict]:
    """A batch transform job, through the transform service; its properties are the Describe response."""
    from localcloud.services.sagemaker.transform import TransformService

    service = execution.service.cloud.service(TransformService)
    request = execution.resolver.resolve(step["Arguments"])
    reused = execution.reuse_cached_run(step, request)
    if reused is not None:
        return reused
    request["TransformJobName"] = job_name(execution, step["Name"])
    try:
        record = service.new_record(request, _region(execution))
    except AwsError as error:
        raise _refused("create the transform job", error) from None
    record["PipelineExecutionArn"] = execution.record["PipelineExecutionArn"]
    service.save(record)
    metadata = {"TransformJob": {"Arn": record["TransformJobArn"]}}
    execution.note_metadata(step["Name"], metadata)
    record = service.run(record)
    if record["TransformJobStatus"] != "Completed":
        reason = record.get("FailureReason", "transform job failed")
        raise StepFailed(reason, metadata, classify_job_failure(reason))
    return metadata, service.describe(record["TransformJobName"])


def lambda_function(execution, step) -> tuple[dict, dict]:
    """Invoke the function with the resolved Arguments; OutputParameters come from the dict it returns."""
    function_arn = execution.resolver.resolve(step.get("FunctionArn"))
    if not isinstance(function_arn, str) or not function_arn:
        raise StepFailed(f"ClientError: step {step['Name']!r} has no FunctionArn: name the Lambda function to invoke")
    event = execution.resolver.resolve(step.get("Arguments") or {})
    outputs = step.get("OutputParameters") or []
    try:
        arn, values = lambda_steps.invoke(execution.service.cloud, _region(execution), function_arn, event, outputs)
    except lambda_steps.LambdaStepError as error:
        raise StepFailed(str(error), {"Lambda": {"Arn": function_arn}}) from None
    metadata = {
        "Lambda": {
            "Arn": arn,
            "OutputParameters": [{"Name": name, "Value": _text(value)} for name, value in values.items()],
        }
    }
    return metadata, {"OutputParameters": values}


def _text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


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
    "Tuning": tuning,
    "Transform": transform,
    "Lambda": lambda_function,
}

# Step types SageMaker has and the local cloud cannot run, with what they would need.
UNSUPPORTED = {
    "ClarifyCheck": "it runs SageMaker Clarify's analysis container, which the local cloud does not have",
    "QualityCheck": "it runs Model Monitor's analysis container, which the local cloud does not have",
    "EMR": "it submits work to an Amazon EMR cluster, which the local cloud does not run",
    "AutoML": "it runs a SageMaker Autopilot job, which the local cloud does not run",
    "Callback": "it waits for an SQS consumer to call SendPipelineExecutionStepSuccess, which the local cloud "
    "does not implement",
    "NotebookJob": "it runs a notebook in a SageMaker Distribution image, which the local cloud does not have",
}


def step_kind(step) -> str:
    """The step's type, telling notebook jobs (Training steps that run the notebook scheduler) apart."""
    if step["Type"] == "Training":
        entrypoint = ((step.get("Arguments") or {}).get("AlgorithmSpecification") or {}).get("ContainerEntrypoint")
        if entrypoint == ["amazon_sagemaker_scheduler"]:
            return "NotebookJob"
    return step["Type"]


def run_step(execution, step) -> tuple[dict, dict]:
    kind = step_kind(step)
    runner = RUNNERS.get(kind)
    if runner is None:
        why = UNSUPPORTED.get(kind, f"the local cloud runs only {', '.join(sorted(RUNNERS))} steps")
        raise StepFailed(f"{kind} steps are not supported by the local cloud: step {step['Name']!r} cannot run ({why})")
    return runner(execution, step)


def _region(execution) -> str:
    return execution.record["PipelineArn"].split(":")[3]
