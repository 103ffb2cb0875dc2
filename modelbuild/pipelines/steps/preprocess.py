"""Preprocess step: validate the input CSV and split it (scripts/preprocess.py)."""

from __future__ import annotations

from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.steps import ProcessingStep

from pipelines.parameters import PipelineParameters
from pipelines.paths import PREPROCESS_SCRIPT, execution_s3_uri
from pipelines.steps.processor import python_script_processor

STEP_NAME = "Preprocess"
INPUT_LOCAL_PATH = "/opt/ml/processing/input/data"
SPLITS = ("train", "validation", "test")


def preprocess_step(
    session: PipelineSession,
    params: PipelineParameters,
    role: str,
    image_uri: str,
    bucket: str,
    base_job_prefix: str,
) -> ProcessingStep:
    """A ProcessingStep whose outputs `train`, `validation`, `test` each hold `<name>.csv`."""
    processor = python_script_processor(session, params, role, image_uri, f"{base_job_prefix}-preprocess")
    outputs = [
        ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=execution_s3_uri(bucket, base_job_prefix, "preprocess", name),
                local_path=f"/opt/ml/processing/{name}",
                s3_upload_mode="EndOfJob",
            ),
        )
        for name in SPLITS
    ]
    step_args = processor.run(
        code=str(PREPROCESS_SCRIPT),
        inputs=[
            ProcessingInput(
                input_name="input",
                s3_input=ProcessingS3Input(
                    s3_uri=params.input_data_url,
                    local_path=INPUT_LOCAL_PATH,
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                ),
            )
        ],
        outputs=outputs,
        arguments=["--input-dir", INPUT_LOCAL_PATH, "--target-column", params.target_column],
    )
    return ProcessingStep(name=STEP_NAME, step_args=step_args)
