"""Register step: put the trained model into the model package group (ModelBuilder.register).

The package is deployable as registered: its single container is the scikit-learn serving
image, its model data is the training job's model.tar.gz (which already holds
code/inference.py), and its environment tells the container where that script is.
"""

from __future__ import annotations

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder

from pipelines.parameters import PipelineParameters
from pipelines.paths import INFERENCE_SCRIPT
from pipelines.steps.evaluate import OUTPUT_NAME as EVALUATION_OUTPUT
from pipelines.steps.evaluate import REPORT_FILE

STEP_NAME = "Register"
CONTENT_TYPES = ["text/csv", "application/json"]
RESPONSE_TYPES = ["application/json"]
INFERENCE_INSTANCE_TYPES = ["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"]
TRANSFORM_INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge"]
SERVING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": INFERENCE_SCRIPT,
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
}


def register_step(
    session: PipelineSession,
    params: PipelineParameters,
    role: str,
    inference_image_uri: str,
    model_package_group_name: str,
    preprocess: ProcessingStep,
    train: TrainingStep,
    evaluate: ProcessingStep,
) -> ModelStep:
    """A ModelStep that creates a model package version with metrics and test-data metadata."""
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT].S3Output.S3Uri
    test_uri = preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(
            s3_uri=Join(on="/", values=[evaluation_uri, REPORT_FILE]),
            content_type="application/json",
        )
    )
    builder = ModelBuilder(
        image_uri=inference_image_uri,
        s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
        env_vars=dict(SERVING_ENVIRONMENT),
        role_arn=role,
        instance_type=INFERENCE_INSTANCE_TYPES[1],
        sagemaker_session=session,
    )
    step_args = builder.register(
        model_package_group_name=model_package_group_name,
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
        },
    )
    return ModelStep(name=STEP_NAME, step_args=step_args)
