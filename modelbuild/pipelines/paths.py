"""Where things live: the step scripts in this repository and the per-execution S3 prefixes."""

from __future__ import annotations

from pathlib import Path

from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
PREPROCESS_SCRIPT = SCRIPTS_DIR / "preprocess.py"
EVALUATE_SCRIPT = SCRIPTS_DIR / "evaluate.py"
TRAINING_SOURCE_DIR = SCRIPTS_DIR / "training"
TRAINING_ENTRY_SCRIPT = "train.py"
INFERENCE_SCRIPT = "inference.py"


def execution_s3_uri(bucket: str, base_job_prefix: str, *parts: str) -> Join:
    """s3://<bucket>/<prefix>/<execution id>/<parts...>: one folder per pipeline execution."""
    return Join(
        on="/",
        values=["s3:/", bucket, base_job_prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts],
    )
