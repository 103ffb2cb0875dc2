"""sagemaker-runtime's answers, shaped the way boto3 parses them (rest-json protocol)."""

from __future__ import annotations

import json

from werkzeug.wrappers import Response

LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"


def log_group(endpoint_name: str) -> str:
    return LOG_GROUP_PREFIX + endpoint_name


def log_stream(variant: str, instance_id: str) -> str:
    """One stream per instance, as SageMaker names them: ``<variant>/<instance id>``."""
    return f"{variant}/{instance_id}"


def log_stream_arn(region: str, account: str, endpoint_name: str, variant: str, instance_id: str) -> str:
    group = log_group(endpoint_name)
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{log_stream(variant, instance_id)}"


def success(body: bytes, content_type: str, variant: str, custom_attributes: str | None) -> Response:
    headers = {"x-Amzn-Invoked-Production-Variant": variant}
    if custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    return Response(body, status=200, headers=headers, content_type=content_type)


def model_error(
    region: str, account: str, endpoint_name: str, variant: str, status: int, message: str, instance_id: str | None
) -> Response:
    """HTTP 424 ModelError: boto3 raises ``ModelError`` carrying the model's own message and the log
    stream of the instance that answered (none when no instance took the request)."""
    kind = "client" if 400 <= status < 500 else "server"
    where = f"log group {log_group(endpoint_name)}"
    if instance_id:
        where += f", stream {log_stream(variant, instance_id)}"
    text = (
        f'Received {kind} error ({status}) from primary with message "{message}". See {where} in account '
        f"{account} for more information."
    )
    body = {
        "__type": "ModelError",
        "message": text,
        "Message": text,
        "OriginalStatusCode": status,
        "OriginalMessage": message,
    }
    if instance_id:
        body["LogStreamArn"] = log_stream_arn(region, account, endpoint_name, variant, instance_id)
    return Response(
        json.dumps(body),
        status=424,
        content_type="application/json",
        headers={"x-amzn-ErrorType": "ModelError"},
    )
