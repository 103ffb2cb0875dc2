"""Stack operations run in the background, as on CloudFormation: the call answers at once, the rest of
the API stays available while a resource takes its time, and a stop in the middle ends in a definite
state after the restart."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from localcloud.core.server import LocalCloud
from tests.localcloud.conftest import reset_moto
from tests.localcloud.stack_waits import settled_stack

BUCKET = "stack-operations"
# A custom resource that says it started, then waits for the test to open a gate (or for a stop).
GATED = """
import time, boto3
def handler(event, context):
    s3 = boto3.client("s3")
    bucket = event["ResourceProperties"]["Bucket"]
    if event["RequestType"] == "Delete":
        return {}
    s3.put_object(Bucket=bucket, Key="started-" + event["RequestType"], Body=b"")
    deadline = time.time() + 50
    while time.time() < deadline:
        try:
            s3.head_object(Bucket=bucket, Key="gate")
            return {"Answer": event["ResourceProperties"]["Answer"]}
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("the gate never opened")
"""


def _template(answer: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"ops-queue-{answer}"}},
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "AssumeRolePolicyDocument": {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "lambda.amazonaws.com"},
                                    "Action": "sts:AssumeRole",
                                }
                            ]
                        }
                    },
                },
                "Function": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Code": {"S3Bucket": BUCKET, "S3Key": "gated.zip"},
                        "Handler": "index.handler",
                        "Runtime": "python3.12",
                        "Timeout": 60,
                        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    },
                },
                "Gated": {
                    "Type": "Custom::Gated",
                    "DependsOn": "Queue",
                    "Properties": {
                        "ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]},
                        "Bucket": BUCKET,
                        "Answer": answer,
                    },
                },
            },
            "Outputs": {"Answer": {"Value": {"Fn::GetAtt": ["Gated", "Answer"]}}},
        }
    )


@pytest.fixture
def local(tmp_path):
    """A cloud of this test's own (the restart tests stop it), with the gated handler uploaded."""
    reset_moto()
    started = {"cloud": LocalCloud(tmp_path).start()}
    s3 = started["cloud"].client("s3")
    s3.create_bucket(Bucket=BUCKET)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("index.py", GATED)
    s3.put_object(Bucket=BUCKET, Key="gated.zip", Body=archive.getvalue())
    yield started
    started["cloud"].stop()
    reset_moto()


def _wait_for_object(s3, key: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s3.head_object(Bucket=BUCKET, Key=key)
            return
        except ClientError:
            time.sleep(0.05)
    raise AssertionError(f"{key} never appeared")


def test_create_answers_at_once_and_the_api_stays_available_while_a_resource_works(local):
    cloud = local["cloud"]
    cloudformation, s3 = cloud.client("cloudformation"), cloud.client("s3")
    began = time.monotonic()
    cloudformation.create_stack(StackName="gated", TemplateBody=_template("one"))
    assert time.monotonic() - began < 2.0
    _wait_for_object(s3, "started-Create")

    during = cloudformation.describe_stacks(StackName="gated")["Stacks"][0]
    assert during["StackStatus"] == "CREATE_IN_PROGRESS"
    assert "Outputs" not in during  # evaluating them would make the custom resource from a read
    made = {
        r["LogicalResourceId"] for r in cloudformation.list_stack_resources(StackName="gated")["StackResourceSummaries"]
    }
    assert "Gated" not in made and {"Queue", "Function"} <= made
    began = time.monotonic()
    s3.put_object(Bucket=BUCKET, Key="unrelated", Body=b"x")  # not held up by the stack's operation
    assert time.monotonic() - began < 2.0
    with pytest.raises(ClientError, match="CREATE_IN_PROGRESS state and can not be updated"):
        cloudformation.update_stack(StackName="gated", TemplateBody=_template("two"))

    s3.put_object(Bucket=BUCKET, Key="gate", Body=b"")
    done = settled_stack(cloudformation, "gated")
    assert done["StackStatus"] == "CREATE_COMPLETE", done.get("StackStatusReason")
    assert done["Outputs"][0]["OutputValue"] == "one"


def test_a_delete_asked_for_during_a_create_runs_after_it(local):
    cloud = local["cloud"]
    cloudformation, s3 = cloud.client("cloudformation"), cloud.client("s3")
    created = cloudformation.create_stack(StackName="gated", TemplateBody=_template("one"))["StackId"]
    _wait_for_object(s3, "started-Create")
    cloudformation.delete_stack(StackName="gated")
    s3.put_object(Bucket=BUCKET, Key="gate", Body=b"")
    assert settled_stack(cloudformation, "gated") is None
    gone = cloudformation.describe_stacks(StackName=created)["Stacks"][0]
    assert gone["StackStatus"] == "DELETE_COMPLETE"
    assert cloud.client("sqs").list_queues().get("QueueUrls", []) == []


def _restart(local, tmp_path) -> LocalCloud:
    local["cloud"].stop()
    reset_moto()
    local["cloud"] = LocalCloud(tmp_path).start()
    return local["cloud"]


def test_a_create_cut_off_by_a_stop_rolls_back_after_the_restart_saying_why(local, tmp_path):
    cloud = local["cloud"]
    cloudformation = cloud.client("cloudformation")
    cloudformation.create_stack(StackName="gated", TemplateBody=_template("one"))
    _wait_for_object(cloud.client("s3"), "started-Create")

    again = _restart(local, tmp_path)
    after = settled_stack(again.client("cloudformation"), "gated")
    assert after["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "The local cloud stopped during this operation (CREATE_IN_PROGRESS)" in after["StackStatusReason"]
    assert again.client("sqs").list_queues().get("QueueUrls", []) == []  # what it had made is deleted
    assert not [
        f for f in again.client("lambda").list_functions()["Functions"] if f["FunctionName"].startswith("gated-")
    ]


def test_an_update_cut_off_by_a_stop_rolls_back_to_the_previous_template(local, tmp_path):
    cloud = local["cloud"]
    cloudformation, s3 = cloud.client("cloudformation"), cloud.client("s3")
    cloudformation.create_stack(StackName="gated", TemplateBody=_template("one"))
    _wait_for_object(s3, "started-Create")
    s3.put_object(Bucket=BUCKET, Key="gate", Body=b"")
    assert settled_stack(cloudformation, "gated")["StackStatus"] == "CREATE_COMPLETE"
    s3.delete_object(Bucket=BUCKET, Key="gate")
    cloudformation.update_stack(StackName="gated", TemplateBody=_template("two"))
    _wait_for_object(s3, "started-Update")

    again = _restart(local, tmp_path)
    again.client("s3").put_object(Bucket=BUCKET, Key="gate", Body=b"")  # the rollback's own update may pass
    after = settled_stack(again.client("cloudformation"), "gated")
    assert after["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", after.get("StackStatusReason")
    assert "The local cloud stopped during this operation (UPDATE_IN_PROGRESS)" in after["StackStatusReason"]
    assert after["Outputs"][0]["OutputValue"] == "one"
    queues = again.client("sqs").list_queues().get("QueueUrls", [])
    assert [url.rsplit("/", 1)[1] for url in queues] == ["ops-queue-one"]
