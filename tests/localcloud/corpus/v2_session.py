"""What every SDK v2 builder shares: the placeholder account, role and bucket, and a PipelineSession.

Runs only in the corpus venv (SDK v2). regenerate.py points boto3 at a local cloud while a builder
runs, so the SDK's definition-time code uploads land in a real S3 API and are saved beside the JSON.
"""

import json
import os
import pathlib

import boto3
from sagemaker.workflow.pipeline_context import PipelineSession

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/corpus-pipeline-role"
BUCKET = "corpus-artifacts"
# Builders name their code relative to the corpus folder, so no definition holds this machine's paths
# (SDK v2 copies a model's source_dir into the repack step's hyperparameters as given).
os.chdir(pathlib.Path(__file__).resolve().parent)
CODE = pathlib.Path("code")
SKLEARN_VERSION = "1.2-1"


def pipeline_session() -> PipelineSession:
    return PipelineSession(boto_session=boto3.Session(region_name=REGION), default_bucket=BUCKET)


def data_uri(pipeline_name: str) -> str:
    """Where a pipeline's input data is expected by default: the test uploads it there."""
    return f"s3://{BUCKET}/{pipeline_name}/input/data.csv"


def emit(pipeline) -> None:
    """Print the definition after a mark, the one thing regenerate.py reads from a builder's output."""
    print("--- pipeline definition ---")
    print(json.dumps(json.loads(pipeline.definition()), indent=1, sort_keys=True))
