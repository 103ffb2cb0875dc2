"""S3's EventBridge notifications: one upload, one Object Created event, however it was uploaded.

boto3's upload_file sends a file over 8 MB in parts; moto announced such an upload twice (its
PutObject inside CompleteMultipartUpload, then the completion), and the project's data-arrival rule
trained and registered two models for one landed file.
"""

from __future__ import annotations

import json
import time

import pytest
from boto3.s3.transfer import TransferConfig

BUCKET = "events-landing"
PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"prefix": "data/"}]}},
}


@pytest.fixture(scope="module")
def queue(cloud):
    s3, sqs, events = cloud.client("s3"), cloud.client("sqs"), cloud.client("events")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})
    url = sqs.create_queue(QueueName="landings")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="landings", EventPattern=json.dumps(PATTERN))
    events.put_targets(Rule="landings", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def landed_keys(cloud, url: str) -> list[str]:
    """The keys of every event delivered so far (waiting briefly for stragglers)."""
    sqs, keys = cloud.client("sqs"), []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            keys.append(json.loads(message["Body"])["detail"]["object"]["key"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return keys


def test_a_multipart_upload_is_announced_once(cloud, queue, tmp_path):
    landed = tmp_path / "big.csv"
    landed.write_bytes(b"target,x\n" + b"1,2\n" * 3_000_000)  # 12 MB: boto3 sends it in parts
    parts = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    cloud.client("s3").upload_file(str(landed), BUCKET, "data/big.csv", Config=parts)
    assert landed_keys(cloud, queue) == ["data/big.csv"]


def test_a_put_is_announced_once_and_other_prefixes_not_at_all(cloud, queue):
    s3 = cloud.client("s3")
    s3.put_object(Bucket=BUCKET, Key="data/small.csv", Body=b"target,x\n1,2\n")
    s3.put_object(Bucket=BUCKET, Key="models/other.bin", Body=b"not data")
    assert landed_keys(cloud, queue) == ["data/small.csv"]


def test_tags_added_is_announced_for_put_object_tagging_only(cloud):
    """A PutObject (tagged or not) and a CopyObject are each one Object Created; tagging an object is
    one Object Tags Added."""
    s3, sqs, events = cloud.client("s3"), cloud.client("sqs"), cloud.client("events")
    s3.create_bucket(Bucket="events-tagging")
    s3.put_bucket_notification_configuration(
        Bucket="events-tagging", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    url = sqs.create_queue(QueueName="everything")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": ["events-tagging"]}}}
    events.put_rule(Name="everything", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="everything", Targets=[{"Id": "queue", "Arn": arn}])

    s3.put_object(Bucket="events-tagging", Key="plain.csv", Body=b"1")
    s3.put_object(Bucket="events-tagging", Key="tagged.csv", Body=b"2", Tagging="team=ml")
    s3.copy_object(Bucket="events-tagging", Key="copy.csv", CopySource={"Bucket": "events-tagging", "Key": "plain.csv"})
    s3.put_object_tagging(Bucket="events-tagging", Key="plain.csv", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})

    seen, deadline = [], time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            seen.append((body["detail-type"], body["detail"]["object"]["key"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(seen) == sorted(
        [
            ("Object Created", "plain.csv"),
            ("Object Created", "tagged.csv"),
            ("Object Created", "copy.csv"),
            ("Object Tags Added", "plain.csv"),
        ]
    )
