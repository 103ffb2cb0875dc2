"""The pipeline's run-time parameters: what can change per execution without redeploying."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sagemaker.core.workflow.parameters import (
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

from pipelines.instance_types import DEFAULT_PROCESSING_INSTANCE_TYPE, DEFAULT_TRAINING_INSTANCE_TYPE

# auto: Preprocess infers the type from the target column (few distinct integers are classes).
PROBLEM_TYPES = ("auto", "binary_classification", "multiclass_classification", "regression")
DEFAULT_PROBLEM_TYPE = "auto"
# Classifiers are gated on test accuracy. A good model on the shipped breast cancer data scores
# about 0.95-0.99; always predicting the majority class scores about 0.63.
DEFAULT_ACCURACY_THRESHOLD = 0.9
# Regressors are gated on test R² (1 is perfect, 0 is no better than predicting the mean).
# Ridge regression on scikit-learn's diabetes data scores about 0.44; the mean scores about 0.
DEFAULT_R2_THRESHOLD = 0.3
DEFAULT_TARGET_COLUMN = "target"
DEFAULT_REGULARIZATION_C = 1.0
DEFAULT_MAX_ITERATIONS = 1000
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
DEFAULT_APPROVAL_STATUS = "PendingManualApproval"


@dataclass(frozen=True)
class PipelineParameters:
    """Every parameter of the pipeline, as SageMaker pipeline variables."""

    processing_instance_type: ParameterString
    training_instance_type: ParameterString
    input_data_url: ParameterString
    target_column: ParameterString
    problem_type: ParameterString
    model_approval_status: ParameterString
    accuracy_threshold: ParameterFloat
    r2_threshold: ParameterFloat
    regularization_c: ParameterFloat
    max_iterations: ParameterInteger

    def as_list(self) -> list[Parameter]:
        """In declaration order, as Pipeline(parameters=...) wants them."""
        return [getattr(self, f.name) for f in fields(self)]


def build_parameters(input_data_url: str) -> PipelineParameters:
    """Create the parameters; input_data_url is the default S3 URI of the training CSV."""
    if not str(input_data_url).startswith("s3://"):
        raise ValueError(f"input_data_url must be an s3:// URI of a CSV file, got {input_data_url!r}")
    return PipelineParameters(
        processing_instance_type=ParameterString("ProcessingInstanceType", DEFAULT_PROCESSING_INSTANCE_TYPE),
        training_instance_type=ParameterString("TrainingInstanceType", DEFAULT_TRAINING_INSTANCE_TYPE),
        input_data_url=ParameterString("InputDataUrl", input_data_url),
        target_column=ParameterString("TargetColumn", DEFAULT_TARGET_COLUMN),
        problem_type=ParameterString("ProblemType", DEFAULT_PROBLEM_TYPE, enum_values=list(PROBLEM_TYPES)),
        model_approval_status=ParameterString(
            "ModelApprovalStatus", DEFAULT_APPROVAL_STATUS, enum_values=list(APPROVAL_STATUSES)
        ),
        accuracy_threshold=ParameterFloat("AccuracyThreshold", DEFAULT_ACCURACY_THRESHOLD),
        r2_threshold=ParameterFloat("R2Threshold", DEFAULT_R2_THRESHOLD),
        regularization_c=ParameterFloat("RegularizationC", DEFAULT_REGULARIZATION_C),
        max_iterations=ParameterInteger("MaxIterations", DEFAULT_MAX_ITERATIONS),
    )
