"""The real ModelBuild pipeline (the seed repository's own code), upserted into a local cloud."""

from __future__ import annotations

import sys
import time
from pathlib import Path

MODELBUILD = Path(__file__).resolve().parents[2] / "modelbuild"
BUCKET = "sagemaker-project-p-localtest"
GROUP = "localtest-p-localtest"
PIPELINE = "sagemaker-localtest"
ROLE = "arn:aws:iam::123456789012:role/service-role/pipeline-role"


def upsert(sagemaker, s3) -> None:
    """Create the bucket and group, then build and upsert the pipeline as the buildspec would."""
    if str(MODELBUILD) not in sys.path:
        sys.path.insert(0, str(MODELBUILD))
    from pipelines.pipeline import get_pipeline

    s3.create_bucket(Bucket=BUCKET)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    pipeline = get_pipeline(
        region="us-east-1",
        role=ROLE,
        default_bucket=BUCKET,
        model_package_group_name=GROUP,
        pipeline_name=PIPELINE,
        base_job_prefix="localtest",
    )
    pipeline.upsert(role_arn=ROLE)


def start(sagemaker, **parameters) -> str:
    return sagemaker.start_pipeline_execution(
        PipelineName=PIPELINE,
        PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()],
    )["PipelineExecutionArn"]


def wait(sagemaker, arn: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return described
        time.sleep(0.2)
    raise TimeoutError(f"pipeline execution {arn} still running after {timeout} s")


def steps(sagemaker, arn: str) -> dict[str, dict]:
    listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return {step["StepName"]: step for step in listed}
