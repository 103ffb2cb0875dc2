"""Pipeline Lambda steps: the function named by ``FunctionArn`` runs, its returned dict is the outputs.

SageMaker invokes the function with the step's ``Arguments`` (resolved) as the event and reads each
of ``OutputParameters`` from the dict the handler returns. The function must exist in the local
Lambda service (moto's records, made by CreateFunction or a stack); its handler runs in the sandbox
exactly as a custom resource's does (``cloudformation/custom_resources.py`` and its runner), and
what it prints goes to its log group. A handler that raises fails the step with its error.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from moto.awslambda.models import lambda_backends

from localcloud import ACCOUNT_ID
from localcloud.services.cloudformation import custom_resources

OUTPUT_TYPES = {"String": str, "Integer": int, "Float": float, "Boolean": None}


class LambdaStepError(Exception):
    """The step fails with this message (the function is missing, raised, or returned no such output)."""


def _typed(name: str, kind: str, value: Any) -> Any:
    if kind not in OUTPUT_TYPES:
        raise LambdaStepError(
            f"ClientError: output {name!r} has OutputType {kind!r}: use String, Integer, Float or Boolean"
        )
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise LambdaStepError(f"ClientError: output {name!r} is {value!r}, not a Boolean")
    if kind == "String":
        return value if isinstance(value, str) else str(value)
    try:
        return OUTPUT_TYPES[kind](value)
    except (TypeError, ValueError):
        raise LambdaStepError(f"ClientError: output {name!r} is {value!r}, not an {kind}") from None


def invoke(cloud, region: str, function_arn: str, event: dict[str, Any], outputs: list[dict[str, Any]]):
    """Run the function; (its ARN, the step's output values by name)."""
    try:
        function = lambda_backends[ACCOUNT_ID][region].get_function(function_arn)
    except Exception:
        raise LambdaStepError(
            f"ClientError: Lambda function {function_arn} does not exist: create it (CreateFunction) before the "
            "pipeline runs"
        ) from None
    request_id = str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix="lambda-step-") as folder:
        outcome, lines = custom_resources.run_function(cloud, function, event, Path(folder), request_id=request_id)
    custom_resources.ship_function_logs(ACCOUNT_ID, region, function, request_id, lines)
    if "errorMessage" in outcome:
        raise LambdaStepError(
            f"ClientError: Lambda function {function.function_name} failed: "
            f"{outcome.get('errorType', 'Error')}: {outcome['errorMessage']}"
        )
    returned = outcome.get("returned")
    if outputs and not isinstance(returned, dict):
        raise LambdaStepError(
            f"ClientError: Lambda function {function.function_name} returned {type(returned).__name__}, not a dict "
            f"holding its outputs {[o.get('OutputName') for o in outputs]}"
        )
    values = {}
    for output in outputs:
        name = output.get("OutputName")
        if name not in returned:
            raise LambdaStepError(
                f"ClientError: Lambda function {function.function_name} returned no output {name!r} "
                f"(it returned {sorted(returned)}): put it in the returned dict"
            )
        values[name] = _typed(name, output.get("OutputType", "String"), returned[name])
    return function.function_arn, values
