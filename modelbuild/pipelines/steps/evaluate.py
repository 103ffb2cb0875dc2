"""Evaluate step: score the model on the test split (scripts/evaluate.py) into evaluation.json."""

from __future__ import annotations

from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep

from pipelines.context import StepContext
from pipelines.paths import EVALUATE_SCRIPT
from pipelines.steps.processor import python_script_processor

STEP_NAME = "Evaluate"
OUTPUT_NAME = "evaluation"
REPORT_FILE = "evaluation.json"
PROPERTY_FILE_NAME = "EvaluationReport"
# The entry evaluate.py writes for every problem type: the gated metric, its value and threshold.
GATE = "quality_gate"


def evaluation_report() -> PropertyFile:
    """The PropertyFile through which later steps read values out of evaluation.json."""
    return PropertyFile(name=PROPERTY_FILE_NAME, output_name=OUTPUT_NAME, path=REPORT_FILE)


def evaluate_step(ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep) -> ProcessingStep:
    """A ProcessingStep reading model.tar.gz and the test split, writing evaluation.json and a plot."""
    params = ctx.params
    processor = python_script_processor(ctx, "evaluate")
    test_uri = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
    step_args = processor.run(
        code=str(EVALUATE_SCRIPT),
        inputs=[
            ProcessingInput(
                input_name="model",
                s3_input=ProcessingS3Input(
                    s3_uri=train.properties.ModelArtifacts.S3ModelArtifacts,
                    local_path="/opt/ml/processing/model",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            ),
            ProcessingInput(
                input_name="test",
                s3_input=ProcessingS3Input(
                    s3_uri=test_uri,
                    local_path="/opt/ml/processing/test",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            ),
        ],
        outputs=[
            ProcessingOutput(
                output_name=OUTPUT_NAME,
                s3_output=ProcessingS3Output(
                    s3_uri=ctx.execution_uri("evaluation"),
                    local_path="/opt/ml/processing/evaluation",
                    s3_upload_mode="EndOfJob",
                ),
            )
        ],
        arguments=[
            "--target-column",
            params.target_column,
            "--accuracy-threshold",
            params.accuracy_threshold.to_string(),
            "--r2-threshold",
            params.r2_threshold.to_string(),
        ],
    )
    return ProcessingStep(name=STEP_NAME, step_args=step_args, property_files=[evaluation_report()])
