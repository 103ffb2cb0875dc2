"""Register step: put the trained model into the model package group (ModelBuilder.register).

The package is deployable as registered: its single container is the scikit-learn serving
image, its model data is the training job's model.tar.gz (which already holds code/inference.py
and code/features.py), and its environment tells the container where that script is. Its
model-quality statistics are the run's evaluation.json, quality gate included, which is what
the ModelDeploy repository's staging test judges the endpoint by.
"""

from __future__ import annotations

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.workflow.functions import Join
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder

from pipelines.context import StepContext
from pipelines.instance_types import (
    DEFAULT_INFERENCE_INSTANCE_TYPE,
    INFERENCE_INSTANCE_TYPES,
    TRANSFORM_INSTANCE_TYPES,
)
from pipelines.paths import INFERENCE_SCRIPT
from pipelines.steps.evaluate import OUTPUT_NAME as EVALUATION_OUTPUT
from pipelines.steps.evaluate import REPORT_FILE

STEP_NAME = "Register"
CONTENT_TYPES = ["text/csv", "application/json"]
RESPONSE_TYPES = ["application/json"]
SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": INFERENCE_SCRIPT,
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
}


def register_step(
    ctx: StepContext, preprocess: ProcessingStep, train: TrainingStep, evaluate: ProcessingStep
) -> ModelStep:
    """A ModelStep that creates a model package version with metrics and test-data metadata."""
    params = ctx.params
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT].S3Output.S3Uri
    test_uri = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(on="/", values=[evaluation_uri, REPORT_FILE]),
            content_type="application/json",
        )
    )
    builder = ModelBuilder(
        image_uri=ctx.serving_image_uri,
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        env_vars=dict(SERVING_ENVIRONMENT),
        role_arn=ctx.role,
        instance_type=DEFAULT_INFERENCE_INSTANCE_TYPE,
        sagemaker_session=ctx.session,
    )
    step_args = builder.register(
        model_package_group_name=ctx.model_package_group_name,
        content_types=list(CONTENT_TYPES),
        response_types=list(RESPONSE_TYPES),
        inference_instances=list(INFERENCE_INSTANCE_TYPES),
        transform_instances=list(TRANSFORM_INSTANCE_TYPES),
        model_metrics=model_metrics,
        approval_status=params.model_approval_status,
        customer_metadata_properties={
            "TestDataS3Uri": Join(on="/", values=[test_uri, "test.csv"]),
            "TargetColumn": params.target_column,
            "AccuracyThreshold": params.accuracy_threshold.to_string(),
            "R2Threshold": params.r2_threshold.to_string(),
        },
    )
    return ModelStep(name=STEP_NAME, step_args=step_args)
