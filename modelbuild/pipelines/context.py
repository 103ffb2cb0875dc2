"""What every step factory needs, in one object: session, role, bucket, prefix, parameters, images."""

from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.pipeline_context import PipelineSession

from pipelines.parameters import PipelineParameters
from pipelines.paths import execution_s3_uri


@dataclass(frozen=True)
class StepContext:
    """The pipeline-wide settings the steps are built from (see pipeline.get_pipeline)."""

    session: PipelineSession
    role: str
    bucket: str
    base_job_prefix: str
    params: PipelineParameters
    job_image_uri: str
    serving_image_uri: str
    model_package_group_name: str

    def job_name(self, step: str) -> str:
        """Base job name of a step's jobs: <prefix>-<step>."""
        return f"{self.base_job_prefix}-{step}"

    def execution_uri(self, *parts: str) -> Join:
        """s3://<bucket>/<prefix>/<execution id>/<parts...>."""
        return execution_s3_uri(self.bucket, self.base_job_prefix, *parts)
