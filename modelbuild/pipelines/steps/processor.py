"""The processor both processing steps use: a Python script in the scikit-learn image."""

from __future__ import annotations

from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.workflow.pipeline_context import PipelineSession

from pipelines.parameters import PipelineParameters


def python_script_processor(
    session: PipelineSession, params: PipelineParameters, role: str, image_uri: str, base_job_name: str
) -> ScriptProcessor:
    """One instance of the processing instance type, running ``python3 <script>``."""
    return ScriptProcessor(
        role=role,
        image_uri=image_uri,
        command=["python3"],
        instance_count=1,
        instance_type=params.processing_instance_type,
        base_job_name=base_job_name,
        sagemaker_session=session,
    )
