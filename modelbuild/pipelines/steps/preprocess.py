"""Preprocess step: validate the input CSV, decide the problem type and split (scripts/preprocess.py)."""

from __future__ import annotations

from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.mlops.workflow.steps import ProcessingStep

from pipelines.context import StepContext
from pipelines.paths import PREPROCESS_SCRIPT
from pipelines.steps.processor import python_script_processor

STEP_NAME = "Preprocess"
INPUT_LOCAL_PATH = "/opt/ml/processing/input/data"
SPLITS = ("train", "validation", "test")


def preprocess_step(ctx: StepContext) -> ProcessingStep:
    """A ProcessingStep whose outputs `train`, `validation`, `test` each hold `<name>.csv` and dataset.json."""
    params = ctx.params
    processor = python_script_processor(ctx, "preprocess")
    outputs = [
        ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=ctx.execution_uri("preprocess", name),
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
        arguments=[
            "--input-dir",
            INPUT_LOCAL_PATH,
            "--input-data-url",
            params.input_data_url,
            "--target-column",
            params.target_column,
            "--problem-type",
            params.problem_type,
        ],
    )
    return ProcessingStep(name=STEP_NAME, step_args=step_args)
