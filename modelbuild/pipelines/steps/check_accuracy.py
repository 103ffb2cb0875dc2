"""CheckAccuracy step: register the model only if its test accuracy reaches the threshold."""

from __future__ import annotations

from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.steps import ProcessingStep

from pipelines.parameters import PipelineParameters
from pipelines.steps.evaluate import ACCURACY_JSON_PATH

STEP_NAME = "CheckAccuracy"
FAIL_STEP_NAME = "AccuracyBelowThreshold"


def measured_accuracy(evaluate: ProcessingStep, report: PropertyFile) -> JsonGet:
    """The test accuracy that evaluate.py wrote into evaluation.json."""
    return JsonGet(step_name=evaluate.name, property_file=report, json_path=ACCURACY_JSON_PATH)


def fail_step(params: PipelineParameters, evaluate: ProcessingStep, report: PropertyFile) -> FailStep:
    """Stops the execution with a message stating the measured accuracy and the threshold."""
    return FailStep(
        name=FAIL_STEP_NAME,
        error_message=Join(
            on=" ",
            values=[
                "Model accuracy",
                measured_accuracy(evaluate, report),
                "is below the AccuracyThreshold of",
                params.accuracy_threshold,
                "- the model was not registered.",
            ],
        ),
    )


def check_accuracy_step(
    params: PipelineParameters,
    evaluate: ProcessingStep,
    report: PropertyFile,
    register: ModelStep,
) -> ConditionStep:
    """accuracy >= AccuracyThreshold -> register; otherwise -> fail."""
    return ConditionStep(
        name=STEP_NAME,
        conditions=[
            ConditionGreaterThanOrEqualTo(
                left=measured_accuracy(evaluate, report),
                right=params.accuracy_threshold,
            )
        ],
        if_steps=[register],
        else_steps=[fail_step(params, evaluate, report)],
    )
