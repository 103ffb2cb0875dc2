"""Local CodeCommit: plain git clones and pushes, push events, CloudFormation seeding."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from localcloud.services.codecommit import hook
from tests.localcloud.stack_waits import settled_stack

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dana",
    "GIT_AUTHOR_EMAIL": "dana@example.com",
    "GIT_COMMITTER_NAME": "Dana",
    "GIT_COMMITTER_EMAIL": "dana@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def push_queue(cloud):
    """An SQS queue that receives every CodeCommit event, the way a user would watch them."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=cloud.url, region_name="us-east-1")
    events = boto3.client("events", endpoint_url=cloud.url, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="codecommit-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="codecommit-pushes",
        EventPattern=json.dumps({"source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"]}),
    )
    events.put_targets(Rule="codecommit-pushes", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def drain(expected: int, timeout: float = 5) -> list[dict]:
        received: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(received) < expected and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in messages.get("Messages", []):
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(received) < expected:
                time.sleep(0.05)
        return received

    return drain


def test_clone_commit_push_emits_codecommit_events(aws, push_queue, tmp_path):
    codecommit = aws("codecommit")
    created = codecommit.create_repository(repositoryName="churn-model")["repositoryMetadata"]
    url = codecommit.get_repository(repositoryName="churn-model")["repositoryMetadata"]["cloneUrlHttp"]
    assert url == created["cloneUrlHttp"] and url.startswith("file://")

    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", url, str(work))
    (work / "README.md").write_text("hello\n")
    git(work, "add", "README.md")
    git(work, "commit", "--quiet", "-m", "first")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    first = git(work, "rev-parse", "HEAD").stdout.strip()

    [event] = push_queue(1)
    assert event["source"] == "aws.codecommit"
    assert event["detail-type"] == "CodeCommit Repository State Change"
    assert event["resources"] == [created["Arn"]]
    assert event["detail"] == {
        "event": "referenceCreated",
        "repositoryName": "churn-model",
        "repositoryId": created["repositoryId"],
        "referenceType": "branch",
        "referenceName": "main",
        "referenceFullName": "refs/heads/main",
        "commitId": first,
        "callerUserArn": "arn:aws:iam::123456789012:root",
    }

    (work / "README.md").write_text("hello again\n")
    git(work, "commit", "--quiet", "-am", "second")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    second = git(work, "rev-parse", "HEAD").stdout.strip()
    [update] = push_queue(1)
    assert update["detail"]["event"] == "referenceUpdated"
    assert (update["detail"]["oldCommitId"], update["detail"]["commitId"]) == (first, second)

    assert codecommit.get_branch(repositoryName="churn-model", branchName="main")["branch"]["commitId"] == second
    assert codecommit.list_branches(repositoryName="churn-model")["branches"] == ["main"]
    commit = codecommit.get_commit(repositoryName="churn-model", commitId=second)["commit"]
    assert commit["parents"] == [first]
    assert commit["message"] == "second\n"
    assert commit["author"]["email"] == "dana@example.com"

    git(work, "push", "--quiet", "origin", "HEAD:feature")
    git(work, "push", "--quiet", "origin", "--delete", "feature")
    created_branch, deleted = push_queue(2)
    assert (created_branch["detail"]["event"], created_branch["detail"]["referenceName"]) == (
        "referenceCreated",
        "feature",
    )
    assert deleted["detail"]["event"] == "referenceDeleted"
    assert deleted["detail"]["oldCommitId"] == second


def test_push_succeeds_with_a_warning_when_the_cloud_is_unreachable(aws, cloud, tmp_path):
    url = aws("codecommit").create_repository(repositoryName="offline-push")["repositoryMetadata"]["cloneUrlHttp"]
    endpoint = cloud.state.root / "codecommit" / hook.ENDPOINT_FILE
    saved = endpoint.read_text()
    endpoint.write_text("http://127.0.0.1:9\n")  # nothing listens on the discard port
    try:
        work = tmp_path / "work"
        git(tmp_path, "clone", "--quiet", url, str(work))
        (work / "a.txt").write_text("a\n")
        git(work, "add", "a.txt")
        git(work, "commit", "--quiet", "-m", "a")
        pushed = git(work, "push", "origin", "HEAD:main")
    finally:
        endpoint.write_text(saved)
    assert "no CodeCommit event was sent" in pushed.stderr
    assert aws("codecommit").list_branches(repositoryName="offline-push")["branches"] == ["main"]


def test_missing_repository_and_branch_errors_name_them(aws):
    from botocore.exceptions import ClientError

    codecommit = aws("codecommit")
    with pytest.raises(ClientError) as missing:
        codecommit.list_branches(repositoryName="no-such-repo")
    assert missing.value.response["Error"]["Code"] == "RepositoryDoesNotExistException"
    codecommit.create_repository(repositoryName="empty-repo")
    with pytest.raises(ClientError) as branch:
        codecommit.get_branch(repositoryName="empty-repo", branchName="dev")
    assert branch.value.response["Error"]["Code"] == "BranchDoesNotExistException"
    assert "dev" in branch.value.response["Error"]["Message"]


def _seed_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.md", "seeded\n")
        script = zipfile.ZipInfo("scripts/run.sh")
        script.external_attr = 0o100755 << 16
        archive.writestr(script, "#!/bin/sh\necho run\n")
    return buffer.getvalue()


def test_cloudformation_repository_is_seeded_from_the_zip_and_deleted_with_the_stack(aws, cloud, tmp_path):
    s3, cloudformation, codecommit = aws("s3"), aws("cloudformation"), aws("codecommit")
    s3.create_bucket(Bucket="seed-assets")
    s3.put_object(Bucket="seed-assets", Key="seed.zip", Body=_seed_zip())
    template = {
        "Resources": {
            "Repo": {
                "Type": "AWS::CodeCommit::Repository",
                "Properties": {
                    "RepositoryName": "seeded-repo",
                    "RepositoryDescription": "from a zip",
                    "Code": {"BranchName": "trunk", "S3": {"Bucket": "seed-assets", "Key": "seed.zip"}},
                },
            }
        },
        "Outputs": {
            "Id": {"Value": {"Ref": "Repo"}},
            "Url": {"Value": {"Fn::GetAtt": ["Repo", "CloneUrlHttp"]}},
            "Arn": {"Value": {"Fn::GetAtt": ["Repo", "Arn"]}},
        },
    }
    cloudformation.create_stack(StackName="repo-stack", TemplateBody=json.dumps(template))
    stack = settled_stack(cloudformation, "repo-stack")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    metadata = codecommit.get_repository(repositoryName="seeded-repo")["repositoryMetadata"]
    assert outputs == {
        "Id": metadata["repositoryId"],
        "Url": metadata["cloneUrlHttp"],
        "Arn": metadata["Arn"],
    }
    assert codecommit.list_branches(repositoryName="seeded-repo")["branches"] == ["trunk"]

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", outputs["Url"], str(clone))
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == "trunk"
    assert (clone / "README.md").read_text() == "seeded\n"
    assert os.access(clone / "scripts" / "run.sh", os.X_OK)

    bare = Path(metadata["cloneUrlHttp"].removeprefix("file://"))
    assert bare == cloud.state.root / "codecommit" / "us-east-1" / "seeded-repo.git"
    cloudformation.delete_stack(StackName="repo-stack")
    assert settled_stack(cloudformation, "repo-stack") is None
    assert not bare.exists()
    names = [r["repositoryName"] for r in codecommit.list_repositories()["repositories"]]
    assert "seeded-repo" not in names


def test_missing_seed_zip_fails_the_resource_and_leaves_no_repository(aws):
    cloudformation, codecommit = aws("cloudformation"), aws("codecommit")
    template = {
        "Resources": {
            "Repo": {
                "Type": "AWS::CodeCommit::Repository",
                "Properties": {
                    "RepositoryName": "unseeded",
                    "Code": {"S3": {"Bucket": "seed-assets", "Key": "missing.zip"}},
                },
            }
        }
    }
    cloudformation.create_stack(StackName="bad-seed", TemplateBody=json.dumps(template))
    failed = settled_stack(cloudformation, "bad-seed")
    assert failed["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "missing.zip" in failed["StackStatusReason"], failed["StackStatusReason"]
    names = [r["repositoryName"] for r in codecommit.list_repositories()["repositories"]]
    assert "unseeded" not in names


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_push_events_and_clone_urls_survive_a_restart_on_another_port(tmp_path):
    """The hook reads where the cloud listens from the state folder, so a new port changes nothing."""
    from localcloud.core import config
    from localcloud.tools import daemon

    state = tmp_path / "state"
    first = daemon.start(state, _free_port())
    try:
        client = lambda service, url: config.client(url, service, "us-east-1", state)  # noqa: E731
        sqs = client("sqs", first.url)
        queue_url = sqs.create_queue(QueueName="pushes")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = client("events", first.url)
        events.put_rule(Name="pushes", EventPattern=json.dumps({"source": ["aws.codecommit"]}))
        events.put_targets(Rule="pushes", Targets=[{"Id": "q", "Arn": arn}])
        url = client("codecommit", first.url).create_repository(repositoryName="durable")["repositoryMetadata"][
            "cloneUrlHttp"
        ]
    finally:
        daemon.stop(state)

    second = daemon.start(state, _free_port())
    try:
        assert second.url != first.url
        assert (
            client("codecommit", second.url).get_repository(repositoryName="durable")["repositoryMetadata"][
                "cloneUrlHttp"
            ]
            == url
        )
        work = tmp_path / "work"
        git(tmp_path, "clone", "--quiet", url, str(work))
        (work / "f.txt").write_text("f\n")
        git(work, "add", "f.txt")
        git(work, "commit", "--quiet", "-m", "f")
        pushed = git(work, "push", "origin", "HEAD:main")
        assert "warning" not in pushed.stderr
        sqs = client("sqs", second.url)
        queue_url = sqs.get_queue_url(QueueName="pushes")["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"]
        assert json.loads(messages[0]["Body"])["detail"]["repositoryName"] == "durable"
    finally:
        daemon.stop(state)
