"""Batch transform jobs serve the model and write one prediction per input record, through the API and
a pipeline's Transform step.

The model is a tiny JSON file and an inference script: each CSV row's prediction is the sum of its
values times the model's scale, so every output line can be checked against its input line.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.modelbuild_pipeline import steps as list_steps
from tests.localcloud.modelbuild_pipeline import wait

BUCKET = "transform-bucket"
ROLE = "arn:aws:iam::123456789012:role/transform"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}

INFERENCE = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, 'model.json')) as handle:
        return json.load(handle)

def input_fn(body, content_type):
    if content_type != 'text/csv':
        raise ValueError(f'only text/csv, not {content_type}')
    text = body if isinstance(body, str) else body.decode()
    return [[float(value) for value in line.split(',')] for line in text.splitlines() if line.strip()]

def predict_fn(rows, model):
    return [sum(row) * model['scale'] for row in rows]

def output_fn(predictions, accept):
    if accept == 'application/json':
        return json.dumps(predictions)
    return ''.join(f'{value:g}\\n' for value in predictions)
"""

ROWS = ["1,2", "3,4", "5,6", "7,8", "9,10"]
OTHER_ROWS = ["0,1", "2,2"]


def _tar(files: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return archive.getvalue()


def prediction(row: str, scale: float = 10) -> str:
    return f"{sum(float(v) for v in row.split(',')) * scale:g}"


@pytest.fixture(scope="module")
def sagemaker(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    model = _tar({"model.json": json.dumps({"scale": 10}), "code/inference.py": INFERENCE})
    s3.put_object(Bucket=BUCKET, Key="model/model.tar.gz", Body=model)
    s3.put_object(Bucket=BUCKET, Key="batch/part-1.csv", Body=("\n".join(ROWS) + "\n").encode())
    s3.put_object(Bucket=BUCKET, Key="batch/sub/part-2.csv", Body=("\n".join(OTHER_ROWS) + "\n").encode())
    s3.put_object(Bucket=BUCKET, Key="gz/rows.csv.gz", Body=gzip.compress("\n".join(ROWS).encode()))
    client = cloud.client("sagemaker")
    client.create_model(
        ModelName="summing",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/model/model.tar.gz",
            "Environment": SERVING_ENV,
        },
    )
    return client


def transform_request(output: str, prefix: str = "batch", **extra) -> dict:
    request = {
        "ModelName": "summing",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/{output}", "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    return request


def run_transform(sagemaker, name: str, request: dict, timeout: float = 120) -> dict:
    sagemaker.create_transform_job(TransformJobName=name, **request)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sagemaker.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] != "InProgress":
            return described
        time.sleep(0.2)
    raise TimeoutError(f"transform job {name} still running after {timeout} s")


def read(cloud, key: str) -> str:
    return cloud.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_each_input_file_gets_an_out_file_with_one_prediction_per_line(cloud, sagemaker, strategy):
    name = f"lines-{strategy.lower()}"
    described = run_transform(sagemaker, name, transform_request(f"out/{name}", BatchStrategy=strategy))
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(cloud, f"out/{name}/part-1.csv.out").splitlines() == [prediction(r) for r in ROWS]
    assert read(cloud, f"out/{name}/sub/part-2.csv.out").splitlines() == [prediction(r) for r in OTHER_ROWS]
    assert described["TransformEndTime"] >= described["TransformStartTime"]
    listed = sagemaker.list_transform_jobs(NameContains=name)["TransformJobSummaries"]
    assert [j["TransformJobStatus"] for j in listed] == ["Completed"]


def test_without_split_each_object_is_one_invocation_and_accept_picks_the_encoding(cloud, sagemaker):
    request = transform_request("out/whole")
    request["TransformInput"].pop("SplitType")
    request["TransformOutput"]["Accept"] = "application/json"
    described = run_transform(sagemaker, "whole-objects", request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert json.loads(read(cloud, "out/whole/part-1.csv.out")) == [float(prediction(r)) for r in ROWS]


def test_gzip_input_and_join_source_input(cloud, sagemaker):
    request = transform_request(
        "out/joined",
        prefix="gz/rows.csv.gz",
        TransformInput={"CompressionType": "Gzip"},
        DataProcessing={"JoinSource": "Input"},
    )
    described = run_transform(sagemaker, "joined", request)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(cloud, "out/joined/rows.csv.gz.out").splitlines() == [f"{r},{prediction(r)}" for r in ROWS]


def test_a_model_error_fails_the_job_with_the_models_message(sagemaker):
    request = transform_request("out/refused", TransformInput={"ContentType": "application/json"})
    described = run_transform(sagemaker, "model-refuses", request)
    assert described["TransformJobStatus"] == "Failed"
    assert "only text/csv, not application/json" in described["FailureReason"]


def test_a_missing_model_fails_the_job_naming_it(sagemaker):
    described = run_transform(sagemaker, "no-model", {**transform_request("out/none"), "ModelName": "no-such-model"})
    assert described["TransformJobStatus"] == "Failed"
    assert "no-such-model" in described["FailureReason"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"DataProcessing": {"InputFilter": "$[1:]"}}, "DataProcessing.InputFilter"),
        ({"TransformInput": {"SplitType": "RecordIO"}}, "TransformInput.SplitType"),
        ({"TransformOutput": {"S3OutputPath": "nowhere"}}, "TransformOutput.S3OutputPath"),
        ({"DataCaptureConfig": {"DestinationS3Uri": f"s3://{BUCKET}/capture"}}, "DataCaptureConfig"),
    ],
)
def test_what_the_local_cloud_cannot_do_is_refused_naming_the_field(sagemaker, change, says):
    with pytest.raises(ClientError) as refused:
        sagemaker.create_transform_job(TransformJobName="refused", **transform_request("out/refused", **change))
    assert says in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sagemaker.describe_transform_job(TransformJobName="refused")


def test_a_transform_step_runs_on_the_model_a_model_step_created(cloud, sagemaker):
    arguments = transform_request("unused")
    arguments["ModelName"] = {"Get": "Steps.CreateModel.ModelName"}
    arguments["TransformOutput"]["S3OutputPath"] = {
        "Std:Join": {"On": "/", "Values": [f"s3://{BUCKET}/piped", {"Get": "Execution.PipelineExecutionId"}]}
    }
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "CreateModel",
                "Type": "Model",
                "Arguments": {
                    "ExecutionRoleArn": ROLE,
                    "PrimaryContainer": {
                        "Image": IMAGE,
                        "ModelDataUrl": f"s3://{BUCKET}/model/model.tar.gz",
                        "Environment": SERVING_ENV,
                    },
                },
            },
            {"Name": "Score", "Type": "Transform", "Arguments": arguments},
        ],
    }
    sagemaker.create_pipeline(PipelineName="scoring", PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName="scoring")["PipelineExecutionArn"]
    described = wait(sagemaker, arn, 180)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    step = list_steps(sagemaker, arn)["Score"]
    job = sagemaker.describe_transform_job(TransformJobName=step["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1])
    assert job["TransformJobStatus"] == "Completed"
    execution_id = arn.rsplit("/", 1)[1]
    assert read(cloud, f"piped/{execution_id}/part-1.csv.out").splitlines() == [prediction(r) for r in ROWS]
