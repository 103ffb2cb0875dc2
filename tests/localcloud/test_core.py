"""The core: moto behind our gateway, state that survives a restart."""

from __future__ import annotations

import boto3

from localcloud.core.server import LocalCloud
from tests.localcloud.conftest import reset_moto
from tests.localcloud.stack_waits import settled_stack


def test_serves_on_loopback_and_persists_across_restart(tmp_path, monkeypatch):
    reset_moto()
    cloud = LocalCloud(tmp_path).start()
    assert cloud.host == "127.0.0.1"
    for key, value in cloud.client_environment().items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3", endpoint_url=cloud.url)
    s3.create_bucket(Bucket="kept-bucket")
    s3.put_object(Bucket="kept-bucket", Key="data/x.csv", Body=b"a,b\n1,2\n")
    sm = boto3.client("sagemaker", endpoint_url=cloud.url)
    sm.create_model_package_group(ModelPackageGroupName="kept-group")
    cloud.stop()
    reset_moto()  # as if the process had died: only the state folder remains

    again = LocalCloud(tmp_path).start()
    try:
        s3 = boto3.client("s3", endpoint_url=again.url)
        assert s3.get_object(Bucket="kept-bucket", Key="data/x.csv")["Body"].read() == b"a,b\n1,2\n"
        sm = boto3.client("sagemaker", endpoint_url=again.url)
        groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
        assert [g["ModelPackageGroupName"] for g in groups] == ["kept-group"]
    finally:
        again.stop()
        reset_moto()


def test_resources_made_only_by_a_stack_survive_a_restart(tmp_path, monkeypatch):
    """A stack creates things in backends no request of their own ever touched (SQS, Lambda): they
    must be saved too, and stay the same objects the stack holds (a rule with targets), or deleting
    the stack after a restart fails."""
    import json

    reset_moto()
    cloud = LocalCloud(tmp_path).start()
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stack-only"}},
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": "stack-only-rule",
                    "EventPattern": {"source": ["app.orders"]},
                    "Targets": [{"Id": "queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}],
                },
            },
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "stack-only-function",
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"},
                },
            },
        }
    }
    cloud.client("cloudformation").create_stack(StackName="only-stack", TemplateBody=json.dumps(template))
    assert settled_stack(cloud.client("cloudformation"), "only-stack")["StackStatus"] == "CREATE_COMPLETE"
    cloud.stop()
    reset_moto()

    again = LocalCloud(tmp_path).start()
    try:
        urls = again.client("sqs").list_queues().get("QueueUrls", [])
        assert any(url.endswith("/stack-only") for url in urls)
        assert again.client("lambda").get_function(FunctionName="stack-only-function")["Configuration"]["Handler"] == (
            "index.handler"
        )
        again.client("cloudformation").delete_stack(StackName="only-stack")
        assert settled_stack(again.client("cloudformation"), "only-stack") is None
        stacks = again.client("cloudformation").list_stacks()["StackSummaries"]
        assert [s["StackStatus"] for s in stacks if s["StackName"] == "only-stack"] == ["DELETE_COMPLETE"], stacks
        assert again.client("sqs").list_queues().get("QueueUrls", []) == []
        assert again.client("events").list_rules(NamePrefix="stack-only")["Rules"] == []
    finally:
        again.stop()
        reset_moto()
