"""sagemaker-runtime's answers, shaped the way boto3 parses them (rest-json protocol)."""

from __future__ import annotations

import json

from werkzeug.wrappers import Response

LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
INSTANCE_ID = "local-1"  # one model server per variant: its "instance" in log stream names


def log_group(endpoint_name: str) -> str:
    return LOG_GROUP_PREFIX + endpoint_name


def log_stream(variant: str) -> str:
    return f"{variant}/{INSTANCE_ID}"


def log_stream_arn(region: str, account: str, endpoint_name: str, variant: str) -> str:
    group = log_group(endpoint_name)
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{log_stream(variant)}"


def success(body: bytes, content_type: str, variant: str, custom_attributes: str | None) -> Response:
    headers = {"x-Amzn-Invoked-Production-Variant": variant}
    if custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    return Response(body, status=200, headers=headers, content_type=content_type)


def model_error(region: str, account: str, endpoint_name: str, variant: str, status: int, message: str) -> Response:
    """HTTP 424 ModelError: boto3 raises ``ModelError`` carrying the model's own message."""
    kind = "client" if 400 <= status < 500 else "server"
    stream_arn = log_stream_arn(region, account, endpoint_name, variant)
    text = (
        f'Received {kind} error ({status}) from primary with message "{message}". See log group '
        f"{log_group(endpoint_name)}, stream {log_stream(variant)} in account {account} for more information."
    )
    body = {
        "__type": "ModelError",
        "message": text,
        "Message": text,
        "OriginalStatusCode": status,
        "OriginalMessage": message,
        "LogStreamArn": stream_arn,
    }
    return Response(
        json.dumps(body),
        status=424,
        content_type="application/json",
        headers={"x-amzn-ErrorType": "ModelError"},
    )
