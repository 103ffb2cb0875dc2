"""CheckQuality step: register the model only if its gated test metric reaches its threshold.

Evaluate writes `quality_gate` into evaluation.json for every problem type (accuracy against
AccuracyThreshold for classifiers, R² against R2Threshold for regressors), so one condition,
`quality_gate.value >= quality_gate.threshold`, serves them all.
"""

from __future__ import annotations

from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.steps import ProcessingStep

from pipelines.steps.evaluate import GATE

STEP_NAME = "CheckQuality"
FAIL_STEP_NAME = "QualityBelowThreshold"


def gate_value(evaluate: ProcessingStep, field: str) -> JsonGet:
    """One field of the quality_gate entry that evaluate.py wrote into evaluation.json."""
    return JsonGet(step_name=evaluate.name, property_file=evaluate.property_files[0], json_path=f"{GATE}.{field}")


def fail_step(evaluate: ProcessingStep) -> FailStep:
    """Stops the execution naming the metric, its value and the threshold it missed."""
    return FailStep(
        name=FAIL_STEP_NAME,
        error_message=Join(
            on=" ",
            values=[
                "Model",
                gate_value(evaluate, "metric"),
                gate_value(evaluate, "value"),
                "is below the",
                gate_value(evaluate, "threshold_parameter"),
                "of",
                gate_value(evaluate, "threshold"),
                "- the model was not registered.",
            ],
        ),
    )


def quality_gate_step(evaluate: ProcessingStep, register: ModelStep) -> ConditionStep:
    """gated metric >= its threshold -> register; otherwise -> fail."""
    return ConditionStep(
        name=STEP_NAME,
        conditions=[
            ConditionGreaterThanOrEqualTo(left=gate_value(evaluate, "value"), right=gate_value(evaluate, "threshold"))
        ],
        if_steps=[register],
        else_steps=[fail_step(evaluate)],
    )
