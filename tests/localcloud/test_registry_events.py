"""Approval changes reach EventBridge in AWS's shape; rules with targets moto lacks don't break it."""

from __future__ import annotations

import json
import time

GROUP_EVENTS = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"]}


class Bus:
    """Two rules on the default bus, each feeding its own queue: one wants approvals of a group (as a
    project's deploy rule does), the other every state change of that group, so that an event the
    first must not take is still seen to have been delivered."""

    def __init__(self, cloud, group: str):
        self.cloud, self.group = cloud, group
        self.last: dict = {}  # the last event received
        sqs, events = cloud.client("sqs"), cloud.client("events")
        sqs_arn = "arn:aws:sqs:us-east-1:123456789012:"
        self.approved = sqs.create_queue(QueueName=f"{group}-approved")["QueueUrl"]
        self.everything = sqs.create_queue(QueueName=f"{group}-everything")["QueueUrl"]
        every_pattern = {**GROUP_EVENTS, "detail": {"ModelPackageGroupName": [group]}}
        approved_pattern = {
            **GROUP_EVENTS,
            "detail": {"ModelPackageGroupName": [group], "ModelApprovalStatus": ["Approved"]},
        }
        events.put_rule(Name=f"{group}-approved", EventPattern=json.dumps(approved_pattern))
        events.put_targets(
            Rule=f"{group}-approved",
            Targets=[
                {"Id": "queue", "Arn": sqs_arn + f"{group}-approved"},
                {"Id": "deploy", "Arn": "arn:aws:codepipeline:us-east-1:123456789012:no-such-pipeline"},
            ],
        )
        events.put_rule(Name=f"{group}-everything", EventPattern=json.dumps(every_pattern))
        events.put_targets(
            Rule=f"{group}-everything", Targets=[{"Id": "queue", "Arn": sqs_arn + f"{group}-everything"}]
        )
        cloud.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)

    def package(self, **metadata) -> str:
        return self.cloud.client("sagemaker").create_model_package(
            ModelPackageGroupName=self.group,
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties=metadata or {"TestDataS3Uri": "s3://bucket/test.csv"},
            InferenceSpecification={
                "Containers": [{"Image": "image", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]

    def received(self, queue: str, until: tuple[str, str], timeout: float = 10) -> list[tuple[str, str]]:
        """Everything ``queue`` got, as (package, status), up to and including the ``until`` event.

        Events are delivered in the order they were put, so once ``until`` is there, anything put
        before it that the queue's rule matched is there too."""
        sqs, got = self.cloud.client("sqs"), []
        deadline = time.monotonic() + timeout
        while until not in got:
            assert time.monotonic() < deadline, f"{until} never reached {queue}; got {got}"
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            for message in messages:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                event = json.loads(message["Body"])
                self.last = event
                got.append((event["resources"][0], event["detail"]["ModelApprovalStatus"]))
            if not messages:
                time.sleep(0.05)
        return got


def test_approval_puts_state_change_event(cloud):
    bus = Bus(cloud, "approval-group")
    arn = bus.package()
    # registration is announced too: the catch-all rule sees it, the approvals rule does not take it
    assert bus.received(bus.everything, until=(arn, "PendingManualApproval")) == [(arn, "PendingManualApproval")]
    cloud.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert bus.received(bus.approved, until=(arn, "Approved")) == [(arn, "Approved")]
    event = bus.last
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["resources"] == [arn]
    assert event["detail"]["ModelPackageArn"] == arn
    assert event["detail"]["ModelApprovalStatus"] == "Approved"
    assert event["detail"]["ModelPackageGroupName"] == "approval-group"


def test_rejection_is_not_an_approval(cloud):
    bus = Bus(cloud, "rejection-group")
    rejected, approved = bus.package(), bus.package()
    sagemaker = cloud.client("sagemaker")
    sagemaker.update_model_package(ModelPackageArn=rejected, ModelApprovalStatus="Rejected")
    sagemaker.update_model_package(ModelPackageArn=approved, ModelApprovalStatus="Approved")  # the control
    # the bus carried all four changes, in order: the rejection was announced and delivered ...
    assert bus.received(bus.everything, until=(approved, "Approved")) == [
        (rejected, "PendingManualApproval"),
        (approved, "PendingManualApproval"),
        (rejected, "Rejected"),
        (approved, "Approved"),
    ]
    # ... and the approvals rule took only the approval, which was put after the rejection
    assert bus.received(bus.approved, until=(approved, "Approved")) == [(approved, "Approved")]


def test_approval_keeps_customer_metadata(cloud):
    bus = Bus(cloud, "metadata-group")
    arn = bus.package(TestDataS3Uri="s3://bucket/test.csv", AccuracyThreshold="0.9")
    sagemaker = cloud.client("sagemaker")
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {
        "TestDataS3Uri": "s3://bucket/test.csv",
        "AccuracyThreshold": "0.9",
    }
    assert described["ApprovalDescription"] == "looks good"
    assert bus.received(bus.approved, until=(arn, "Approved")) == [(arn, "Approved")]
    assert bus.last["detail"]["CustomerMetadataProperties"] == described["CustomerMetadataProperties"]
