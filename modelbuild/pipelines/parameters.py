"""The pipeline's run-time parameters: what can change per execution without redeploying."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sagemaker.core.workflow.parameters import (
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

# A good model on the shipped breast cancer data scores about 0.95-0.99 on the test split; always
# predicting the majority class scores about 0.63. 0.9 separates the two with room to spare.
DEFAULT_ACCURACY_THRESHOLD = 0.9
DEFAULT_TARGET_COLUMN = "target"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT_REGULARIZATION_C = 1.0
DEFAULT_MAX_ITERATIONS = 1000
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


@dataclass(frozen=True)
class PipelineParameters:
    """Every parameter of the pipeline, as SageMaker pipeline variables."""

    processing_instance_type: ParameterString
    training_instance_type: ParameterString
    input_data_url: ParameterString
    target_column: ParameterString
    model_approval_status: ParameterString
    accuracy_threshold: ParameterFloat
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
        processing_instance_type=ParameterString("ProcessingInstanceType", DEFAULT_INSTANCE_TYPE),
        training_instance_type=ParameterString("TrainingInstanceType", DEFAULT_INSTANCE_TYPE),
        input_data_url=ParameterString("InputDataUrl", input_data_url),
        target_column=ParameterString("TargetColumn", DEFAULT_TARGET_COLUMN),
        model_approval_status=ParameterString(
            "ModelApprovalStatus", "PendingManualApproval", enum_values=list(APPROVAL_STATUSES)
        ),
        accuracy_threshold=ParameterFloat("AccuracyThreshold", DEFAULT_ACCURACY_THRESHOLD),
        regularization_c=ParameterFloat("RegularizationC", DEFAULT_REGULARIZATION_C),
        max_iterations=ParameterInteger("MaxIterations", DEFAULT_MAX_ITERATIONS),
    )
