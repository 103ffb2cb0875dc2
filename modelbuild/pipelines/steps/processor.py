"""The processor both processing steps use: a Python script in the scikit-learn image."""

from __future__ import annotations

from sagemaker.core.processing import ScriptProcessor

from pipelines.context import StepContext


def python_script_processor(ctx: StepContext, step: str) -> ScriptProcessor:
    """One instance of the processing instance type, running ``python3 <script>``."""
    return ScriptProcessor(
        role=ctx.role,
        image_uri=ctx.job_image_uri,
        command=["python3"],
        instance_count=1,
        instance_type=ctx.params.processing_instance_type,
        base_job_name=ctx.job_name(step),
        sagemaker_session=ctx.session,
    )
