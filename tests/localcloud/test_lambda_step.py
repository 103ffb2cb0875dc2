"""Pipeline Lambda steps run the function in the sandbox; its returned dict is the step's outputs.

The function is made with Lambda's CreateFunction, as a user's stack or SDK's ``Lambda.upsert`` would;
its outputs feed a condition and a processing step's arguments; a handler that raises fails the step
with its own message.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.localcloud.modelbuild_pipeline import steps as list_steps
from tests.localcloud.modelbuild_pipeline import wait

BUCKET = "lambda-step-bucket"
ROLE = "arn:aws:iam::123456789012:role/lambda-step"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"

HANDLER = """
def handler(event, context):
    print('deciding for', event)
    if event['depth'] > 5:
        raise ValueError(f"quota exceeded for depth {event['depth']}")
    return {'threshold': event['depth'] * 0.1, 'label': 'model-' + event['name'], 'unused': 1}
"""

WRITE_LABEL = """
import os, pathlib
pathlib.Path('/opt/ml/processing/out/label.txt').write_text(os.environ['LABEL'])
"""


def _zip(source: str) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("index.py", source)
    return archive.getvalue()


@pytest.fixture(scope="module")
def sagemaker(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/write_label.py", Body=WRITE_LABEL.encode())
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    cloud.client("iam").create_role(RoleName="lambda-step", AssumeRolePolicyDocument=json.dumps(trust))
    cloud.client("lambda").create_function(
        FunctionName="decide",
        Runtime="python3.11",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": _zip(HANDLER)},
        Timeout=30,
    )
    return cloud.client("sagemaker")


def function_arn(cloud) -> str:
    return cloud.client("lambda").get_function(FunctionName="decide")["Configuration"]["FunctionArn"]


def lambda_step(arn: str, outputs=(("threshold", "Float"), ("label", "String"))) -> dict:
    """As SDK v2's LambdaStep emits it: the inputs are the Arguments, FunctionArn and OutputParameters beside."""
    return {
        "Name": "Decide",
        "Type": "Lambda",
        "Arguments": {"depth": {"Get": "Parameters.Depth"}, "name": "tiny"},
        "FunctionArn": arn,
        "OutputParameters": [{"OutputName": name, "OutputType": kind} for name, kind in outputs],
    }


def write_label_step() -> dict:
    out = {"Std:Join": {"On": "/", "Values": [f"s3://{BUCKET}/labels", {"Get": "Execution.PipelineExecutionId"}]}}
    return {
        "Name": "WriteLabel",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
            },
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/write_label.py"],
            },
            "RoleArn": ROLE,
            "Environment": {"LABEL": {"Get": "Steps.Decide.OutputParameters['label']"}},
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{BUCKET}/code/write_label.py",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {"S3Uri": out, "LocalPath": "/opt/ml/processing/out", "S3UploadMode": "EndOfJob"},
                    }
                ]
            },
        },
    }


def pipeline(arn: str, **step_changes) -> dict:
    check = {
        "Name": "HighEnough",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": {"Get": "Steps.Decide.OutputParameters['threshold']"},
                    "RightValue": 0.2,
                }
            ],
            "IfSteps": [write_label_step()],
            "ElseSteps": [],
        },
    }
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Depth", "Type": "Integer", "DefaultValue": 3}],
        "Steps": [{**lambda_step(arn), **step_changes}, check],
    }


def run(sagemaker, name: str, definition: dict, **parameters) -> tuple[str, dict, dict]:
    sagemaker.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(
        PipelineName=name, PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()]
    )["PipelineExecutionArn"]
    return arn, wait(sagemaker, arn, 120), list_steps(sagemaker, arn)


def test_a_lambda_steps_outputs_feed_a_condition_and_a_later_steps_arguments(cloud, sagemaker):
    arn, described, steps = run(sagemaker, "lambda-outputs", pipeline(function_arn(cloud)))
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    decided = steps["Decide"]
    assert decided["Metadata"]["Lambda"]["Arn"] == function_arn(cloud)
    assert {p["Name"]: p["Value"] for p in decided["Metadata"]["Lambda"]["OutputParameters"]} == {
        "threshold": str(3 * 0.1),
        "label": "model-tiny",
    }
    assert steps["HighEnough"]["Metadata"]["Condition"]["Outcome"] == "True"
    body = cloud.client("s3").get_object(Bucket=BUCKET, Key=f"labels/{arn.rsplit('/', 1)[1]}/label.txt")["Body"]
    assert body.read().decode() == "model-tiny"
    # what the handler printed is in its log group, as Lambda keeps it
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/decide")["logStreams"]
    messages = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName="/aws/lambda/decide", logStreamName=s["logStreamName"])["events"]
    ]
    assert any("deciding for {'depth': 3, 'name': 'tiny'}" in m for m in messages)


def test_a_failing_handler_fails_the_step_with_its_error(cloud, sagemaker):
    _, described, steps = run(sagemaker, "lambda-raises", pipeline(function_arn(cloud)), Depth=7)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["Decide"]["StepStatus"] == "Failed"
    assert "ValueError: quota exceeded for depth 7" in steps["Decide"]["FailureReason"]
    assert "quota exceeded for depth 7" in described["FailureReason"]
    assert "HighEnough" not in steps


def test_an_output_the_function_does_not_return_fails_naming_it(cloud, sagemaker):
    changed = lambda_step(function_arn(cloud), outputs=(("threshold", "Float"), ("missing", "String")))
    _, described, steps = run(sagemaker, "lambda-missing-output", pipeline(function_arn(cloud), **changed))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "returned no output 'missing'" in steps["Decide"]["FailureReason"]


def test_a_function_that_does_not_exist_fails_the_step_naming_it(sagemaker):
    missing = "arn:aws:lambda:us-east-1:123456789012:function:no-such-function"
    _, described, steps = run(sagemaker, "lambda-missing", pipeline(missing))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert f"Lambda function {missing} does not exist" in steps["Decide"]["FailureReason"]
