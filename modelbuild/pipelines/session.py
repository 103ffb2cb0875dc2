"""The PipelineSession that records job requests as step arguments instead of running them."""

from __future__ import annotations

import boto3
from sagemaker.core.workflow.pipeline_context import PipelineSession


def pipeline_session(region: str, default_bucket: str) -> PipelineSession:
    """A PipelineSession in `region` that stages code and data in `default_bucket`.

    boto3 honours AWS_ENDPOINT_URL, so the same code reaches AWS or a stand-in endpoint.
    """
    if not default_bucket:
        raise ValueError("default_bucket is required: pass the project's artifact bucket name")
    boto_session = boto3.Session(region_name=region)
    return PipelineSession(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker"),
        default_bucket=default_bucket,
    )
