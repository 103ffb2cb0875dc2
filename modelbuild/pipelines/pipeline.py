"""Assemble the ModelBuild pipeline: Preprocess -> Train -> Evaluate -> CheckQuality -> Register | Fail.

`get_pipeline(...)` is what run_pipeline.py and get_pipeline_definition.py call. Building it
uploads the step code (and, without an explicit input_data_url, the shipped dataset) to
`default_bucket`; nothing runs until the pipeline is started.
"""

from __future__ import annotations

from sagemaker.mlops.workflow.pipeline import Pipeline

from pipelines.context import StepContext
from pipelines.dataset import latest_landed_dataset, upload_default_dataset
from pipelines.images import sklearn_image_uri
from pipelines.parameters import build_parameters
from pipelines.session import pipeline_session
from pipelines.steps.evaluate import evaluate_step
from pipelines.steps.preprocess import preprocess_step
from pipelines.steps.quality_gate import quality_gate_step
from pipelines.steps.register import register_step
from pipelines.steps.train import train_step


def get_pipeline(
    region: str,
    role: str,
    default_bucket: str,
    model_package_group_name: str,
    pipeline_name: str,
    base_job_prefix: str,
    input_data_url: str | None = None,
) -> Pipeline:
    """Build the pipeline.

    Args:
        region: AWS region of the jobs and images.
        role: ARN of the role the pipeline's jobs run as.
        default_bucket: bucket for code, data and outputs (the project's artifact bucket).
        model_package_group_name: group that receives the registered model versions.
        pipeline_name: name of the SageMaker pipeline.
        base_job_prefix: prefix for job names and S3 keys (usually the project name).
        input_data_url: default for the InputDataUrl parameter; when None, the newest CSV landed
            under the default bucket's data/ prefix, or else the CSV shipped in data/ (uploaded).
    """
    for name, value in {
        "region": region,
        "role": role,
        "default_bucket": default_bucket,
        "model_package_group_name": model_package_group_name,
        "pipeline_name": pipeline_name,
        "base_job_prefix": base_job_prefix,
    }.items():
        if not value:
            raise ValueError(f"get_pipeline: {name} is required (got {value!r})")

    session = pipeline_session(region, default_bucket)
    if input_data_url is None:
        input_data_url = latest_landed_dataset(default_bucket, region) or upload_default_dataset(
            default_bucket, base_job_prefix, region
        )
    ctx = StepContext(
        session=session,
        role=role,
        bucket=default_bucket,
        base_job_prefix=base_job_prefix,
        params=build_parameters(input_data_url),
        job_image_uri=sklearn_image_uri(region, "training"),
        serving_image_uri=sklearn_image_uri(region, "inference"),
        model_package_group_name=model_package_group_name,
    )

    preprocess = preprocess_step(ctx)
    train = train_step(ctx, preprocess)
    evaluate = evaluate_step(ctx, preprocess, train)
    register = register_step(ctx, preprocess, train, evaluate)
    check = quality_gate_step(evaluate, register)

    return Pipeline(
        name=pipeline_name,
        parameters=ctx.params.as_list(),
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=session,
    )
