"""Approval changes reach EventBridge in AWS's shape; rules with targets moto lacks don't break it."""

from __future__ import annotations

import json

import pytest

APPROVED_ONLY = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelPackageGroupName": ["events-group"], "ModelApprovalStatus": ["Approved"]},
}


@pytest.fixture(scope="module")
def queue_url(cloud):
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="approved", EventPattern=json.dumps(APPROVED_ONLY))
    events.put_targets(
        Rule="approved",
        Targets=[
            {"Id": "queue", "Arn": arn},
            {"Id": "deploy", "Arn": "arn:aws:codepipeline:us-east-1:123456789012:no-such-pipeline"},
        ],
    )
    cloud.client("sagemaker").create_model_package_group(ModelPackageGroupName="events-group")
    return url


def _package(cloud, **metadata) -> str:
    return cloud.client("sagemaker").create_model_package(
        ModelPackageGroupName="events-group",
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=metadata or {"TestDataS3Uri": "s3://bucket/test.csv"},
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def _received(cloud, url) -> list[dict]:
    messages = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_approval_puts_state_change_event(cloud, queue_url):
    arn = _package(cloud)
    assert _received(cloud, queue_url) == []  # pending is announced, but this rule wants Approved only
    cloud.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    [event] = _received(cloud, queue_url)
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["resources"] == [arn]
    assert event["detail"]["ModelPackageArn"] == arn
    assert event["detail"]["ModelApprovalStatus"] == "Approved"
    assert event["detail"]["ModelPackageGroupName"] == "events-group"


def test_rejection_is_not_an_approval(cloud, queue_url):
    arn = _package(cloud)
    cloud.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    assert _received(cloud, queue_url) == []


def test_approval_keeps_customer_metadata(cloud, queue_url):
    arn = _package(cloud, TestDataS3Uri="s3://bucket/test.csv", AccuracyThreshold="0.9")
    sagemaker = cloud.client("sagemaker")
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {
        "TestDataS3Uri": "s3://bucket/test.csv",
        "AccuracyThreshold": "0.9",
    }
    _received(cloud, queue_url)
