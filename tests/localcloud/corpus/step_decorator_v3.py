"""An SDK v3 pipeline of @step-decorated functions, built in the project's venv.

Modelled on aws/amazon-sagemaker-examples' step-decorator quick start ("Using @step decorated steps
with ConditionStep"): plain Python functions become pipeline steps (each a training job running SDK
v3's remote-function driver), their return values flow between them through S3, a ConditionStep reads
one, and the if-branch registers the model (here with boto3, as many such notebooks do) while the
else-branch fails. Classification on the iris data.
"""

from __future__ import annotations

import sys

import cloudpickle
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.function_step import step
from sagemaker.mlops.workflow.pipeline import Pipeline

NAME = "corpus-step-decorator"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/corpus-pipeline-role"
STEP_SETTINGS = {"image_uri": IMAGE, "instance_type": "ml.m5.large", "role": ROLE}
INFERENCE_SCRIPT = """import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""

# A notebook's functions are pickled by value; these live in a module the job cannot import.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@step(name="PrepareIris", **STEP_SETTINGS)
def prepare(data_uri: str) -> dict:
    import io

    import boto3
    import pandas as pd

    bucket, _, key = data_uri.removeprefix("s3://").partition("/")
    frame = pd.read_csv(io.BytesIO(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))
    frame = frame.sample(frac=1.0, random_state=5)
    cut = int(0.75 * len(frame))
    features = [c for c in frame.columns if c != "target"]
    return {
        "features": features,
        "train": (frame[features].iloc[:cut].to_numpy(), frame["target"].iloc[:cut].to_numpy()),
        "test": (frame[features].iloc[cut:].to_numpy(), frame["target"].iloc[cut:].to_numpy()),
    }


@step(name="TrainIris", **STEP_SETTINGS)
def train(split: dict, regularization: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=500))
    return model.fit(*split["train"])


@step(name="EvaluateIris", **STEP_SETTINGS)
def evaluate(model, split: dict) -> float:
    return float(model.score(*split["test"]))


@step(name="RegisterIris", **STEP_SETTINGS)
def register(
    model, accuracy: float, group: str, bucket: str, execution_id: str, inference_script: str, image: str
) -> str:
    import io
    import json
    import tarfile

    import boto3
    import joblib

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        files = {"model.joblib": _dumped(joblib, model), "code/inference.py": inference_script.encode()}
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    prefix = f"{NAME}/models/{execution_id}"
    artifact_prefix = f"s3://{bucket}/{prefix}"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/model.tar.gz", Body=archive.getvalue())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/evaluation.json", Body=json.dumps({"accuracy": accuracy}).encode())
    return boto3.client("sagemaker").create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": image,
                    "ModelDataUrl": f"{artifact_prefix}/model.tar.gz",
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    },
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"{artifact_prefix}/evaluation.json"}
            }
        },
    )["ModelPackageArn"]


def _dumped(joblib, model) -> bytes:
    import io

    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def get_pipeline(session: PipelineSession, bucket: str) -> Pipeline:
    data_uri = ParameterString(name="InputDataUrl", default_value=f"s3://{bucket}/{NAME}/input/data.csv")
    threshold = ParameterFloat(name="AccuracyThreshold", default_value=0.8)
    group = ParameterString(name="ModelPackageGroupName", default_value="corpus-step-decorator-models")
    regularization = ParameterFloat(name="Regularization", default_value=1.0)

    split = prepare(data_uri)
    model = train(split, regularization)
    accuracy = evaluate(model, split)
    execution_id = ExecutionVariables.PIPELINE_EXECUTION_ID
    registered = register(model, accuracy, group, bucket, execution_id, INFERENCE_SCRIPT, IMAGE)
    gate = ConditionStep(
        name="CheckIrisAccuracy",
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=threshold)],
        if_steps=[registered],
        else_steps=[FailStep(name="AccuracyTooLow", error_message=Join(on=" ", values=["Accuracy below", threshold]))],
    )
    return Pipeline(
        name=NAME,
        parameters=[data_uri, threshold, group, regularization],
        steps=[gate],
        sagemaker_session=session,
    )
