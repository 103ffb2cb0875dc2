"""CodePipeline executions run their stages for real: source, build, approval, CloudFormation deploy."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from tests.localcloud.test_codebuild import REGION, make_repo

ACCOUNT = "123456789012"
BUCKET = "pipeline-artifacts"

BUILDSPEC = """\
version: 0.2
env:
  exported-variables:
    - QUEUE_NAME
phases:
  build:
    commands:
      - test -n "$SOURCE_COMMIT"
      - export QUEUE_NAME="queue-${SOURCE_COMMIT:0:8}"
      - echo "building for $SOURCE_COMMIT in $STAGE_LABEL"
      - if [ -f fail-build ]; then echo "the build was told to fail"; exit 7; fi
      - |
        printf '{"Parameters": {"QueueName": "%s"}, "Tags": {"stage": "prod"}}' "$QUEUE_NAME" > config.json
artifacts:
  files:
    - '**/*'
"""

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  QueueName:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
Outputs:
  QueueName:
    Value: !GetAtt Queue.QueueName
"""


def _role(iam) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        return iam.create_role(RoleName="pipeline-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName="pipeline-role")["Role"]["Arn"]


def create_pipeline(
    aws, name: str, repo: str, with_approval: bool = True, mode: str | None = None, connection: bool = False
) -> str:
    """Source (CodeCommit, or a CodeConnections source naming ``owner/<repo>``) -> Build -> [Approve] -> Deploy.

    Returns the id of the run CodePipeline starts on creation."""
    codebuild = aws("codebuild")
    project = f"{name}-build"
    codebuild.create_project(
        name=project,
        source={"type": "CODEPIPELINE", "location": "codepipeline"},
        artifacts={"type": "CODEPIPELINE", "location": "codepipeline"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=f"arn:aws:iam::{ACCOUNT}:role/codebuild-role",
    )
    stages = [
        {
            "name": "Source",
            "actions": [
                {
                    "name": "Source",
                    "namespace": "SourceVariables",
                    "actionTypeId": {
                        "category": "Source",
                        "owner": "AWS",
                        "provider": "CodeStarSourceConnection" if connection else "CodeCommit",
                        "version": "1",
                    },
                    "configuration": {
                        "ConnectionArn": f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/local",
                        "FullRepositoryId": f"acme/{repo}",
                        "BranchName": "main",
                    }
                    if connection
                    else {"RepositoryName": repo, "BranchName": "main"},
                    "outputArtifacts": [{"name": "SourceArtifact"}],
                }
            ],
        },
        {
            "name": "Build",
            "actions": [
                {
                    "name": "Build",
                    "namespace": "BuildVariables",
                    "actionTypeId": {
                        "category": "Build",
                        "owner": "AWS",
                        "provider": "CodeBuild",
                        "version": "1",
                    },
                    "configuration": {
                        "ProjectName": project,
                        "EnvironmentVariables": json.dumps(
                            [
                                {
                                    "name": "SOURCE_COMMIT",
                                    "value": "#{SourceVariables.CommitId}",
                                    "type": "PLAINTEXT",
                                },
                                {"name": "STAGE_LABEL", "value": "build-stage"},
                            ]
                        ),
                    },
                    "inputArtifacts": [{"name": "SourceArtifact"}],
                    "outputArtifacts": [{"name": "BuildArtifact"}],
                }
            ],
        },
    ]
    if with_approval:
        stages.append(
            {
                "name": "ApproveDeployment",
                "actions": [
                    {
                        "name": "Approve",
                        "actionTypeId": {
                            "category": "Approval",
                            "owner": "AWS",
                            "provider": "Manual",
                            "version": "1",
                        },
                        "configuration": {"CustomData": "Deploy queue #{BuildVariables.QUEUE_NAME}?"},
                    }
                ],
            }
        )
    stages.append(
        {
            "name": "Deploy",
            "actions": [
                {
                    "name": "Deploy",
                    "namespace": "DeployVariables",
                    "actionTypeId": {
                        "category": "Deploy",
                        "owner": "AWS",
                        "provider": "CloudFormation",
                        "version": "1",
                    },
                    "configuration": {
                        "ActionMode": "REPLACE_ON_FAILURE",
                        "StackName": f"{name}-stack",
                        "TemplatePath": "BuildArtifact::template.yml",
                        "TemplateConfiguration": "BuildArtifact::config.json",
                        "Capabilities": "CAPABILITY_IAM",
                        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/cfn-role",
                    },
                    "inputArtifacts": [{"name": "BuildArtifact"}],
                }
            ],
        }
    )
    pipeline = {
        "name": name,
        "roleArn": _role(aws("iam")),
        "stages": stages,
        "artifactStore": {"type": "S3", "location": BUCKET},
        "pipelineType": "V2",
    }
    if mode:
        pipeline["executionMode"] = mode
    codepipeline = aws("codepipeline")
    codepipeline.create_pipeline(pipeline=pipeline)
    [created] = codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    assert created["trigger"]["triggerType"] == "CreatePipeline", created["trigger"]
    return created["pipelineExecutionId"]


def execution(codepipeline, name: str, execution_id: str) -> dict:
    return codepipeline.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)["pipelineExecution"]


def wait_for(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def wait_done(codepipeline, name: str, execution_id: str) -> dict:
    return wait_for(
        lambda: (lambda e: e if e["status"] not in ("InProgress", "Stopping") else None)(
            execution(codepipeline, name, execution_id)
        ),
        f"execution {execution_id}",
    )


def stages(codepipeline, name: str) -> dict[str, dict]:
    return {s["stageName"]: s for s in codepipeline.get_pipeline_state(name=name)["stageStates"]}


def approval_token(codepipeline, name: str) -> str | None:
    running = codepipeline.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    assert running and running[0]["status"] not in ("Failed", "Stopped"), running[0]
    action = stages(codepipeline, name).get("ApproveDeployment", {}).get("actionStates", [{}])[0]
    latest = action.get("latestExecution", {})
    return latest.get("token") if latest.get("status") == "InProgress" else None


def queue_exists(sqs, queue: str) -> bool:
    return any(url.endswith(f"/{queue}") for url in sqs.list_queues().get("QueueUrls", []))


@pytest.fixture(scope="module")
def bucket(cloud):
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def test_pipeline_runs_source_build_approval_deploy_in_order(cloud, aws, bucket):
    commit = make_repo(cloud.state.root, "app", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    execution_id = create_pipeline(aws, "app-pipeline", "app")  # the run creation starts
    codepipeline, sqs, s3 = aws("codepipeline"), aws("sqs"), aws("s3")

    token = wait_for(lambda: approval_token(codepipeline, "app-pipeline"), "the approval to be awaited")
    state = stages(codepipeline, "app-pipeline")
    assert [s["latestExecution"]["status"] for s in state.values() if "latestExecution" in s] == [
        "Succeeded",
        "Succeeded",
        "InProgress",
    ]
    assert "latestExecution" not in state["Deploy"], "deploy must wait for the approval"
    queue = f"queue-{commit[:8]}"
    assert state["ApproveDeployment"]["actionStates"][0]["latestExecution"]["summary"] == f"Deploy queue {queue}?"
    assert not queue_exists(sqs, queue)

    with pytest.raises(codepipeline.exceptions.InvalidApprovalTokenException):
        codepipeline.put_approval_result(
            pipelineName="app-pipeline",
            stageName="ApproveDeployment",
            actionName="Approve",
            token="not-the-token",
            result={"summary": "x", "status": "Approved"},
        )
    codepipeline.put_approval_result(
        pipelineName="app-pipeline",
        stageName="ApproveDeployment",
        actionName="Approve",
        token=token,
        result={"summary": "looks good", "status": "Approved"},
    )
    done = wait_done(codepipeline, "app-pipeline", execution_id)
    assert done["status"] == "Succeeded", done
    assert done["artifactRevisions"][0]["revisionId"] == commit
    assert queue_exists(sqs, queue)
    assert {
        t["Key"]: t["Value"]
        for t in aws("cloudformation").describe_stacks(StackName="app-pipeline-stack")["Stacks"][0]["Tags"]
    } == {"stage": "prod"}

    actions = codepipeline.list_action_executions(
        pipelineName="app-pipeline", filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    by_name = {a["actionName"]: a for a in actions}
    assert [a["actionName"] for a in sorted(actions, key=lambda a: a["startTime"])] == [
        "Source",
        "Build",
        "Approve",
        "Deploy",
    ]
    assert by_name["Source"]["output"]["outputVariables"]["CommitId"] == commit
    assert by_name["Build"]["output"]["outputVariables"] == {"QUEUE_NAME": queue}
    assert by_name["Build"]["input"]["resolvedConfiguration"]["EnvironmentVariables"].count(commit) == 1
    assert by_name["Deploy"]["output"]["outputVariables"] == {"QueueName": queue}

    artifact = by_name["Build"]["output"]["outputArtifacts"][0]["s3location"]
    assert artifact["bucket"] == BUCKET
    body = s3.get_object(Bucket=artifact["bucket"], Key=artifact["key"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        assert sorted(bundle.namelist()) == ["buildspec.yml", "config.json", "template.yml"]

    build_id = by_name["Build"]["output"]["executionResult"]["externalExecutionId"]
    build = aws("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    events = aws("logs").get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
    )["events"]
    assert f"building for {commit} in build-stage" in [e["message"] for e in events]


def test_failing_build_fails_the_stage_and_later_stages_never_run(cloud, aws, bucket):
    commit = make_repo(
        cloud.state.root,
        "broken",
        {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE, "fail-build": "yes"},
    )
    execution_id = create_pipeline(aws, "broken-pipeline", "broken", with_approval=False)
    codepipeline = aws("codepipeline")
    done = wait_done(codepipeline, "broken-pipeline", execution_id)
    assert done["status"] == "Failed"
    assert "Build" in done["statusSummary"] and "exit status 7" in done["statusSummary"]
    state = stages(codepipeline, "broken-pipeline")
    assert state["Build"]["latestExecution"]["status"] == "Failed"
    latest = state["Build"]["actionStates"][0]["latestExecution"]
    assert "the build was told to fail" in latest["errorDetails"]["message"]
    build_id = latest["externalExecutionId"]
    assert latest["externalExecutionUrl"].endswith(f"#/builds/{build_id}/view/new"), "a failed build links to itself"
    assert "latestExecution" not in state["Deploy"]
    assert not queue_exists(aws("sqs"), f"queue-{commit[:8]}")


def test_rejection_fails_the_execution_and_nothing_is_deployed(cloud, aws, bucket):
    commit = make_repo(cloud.state.root, "rejected", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    execution_id = create_pipeline(aws, "rejected-pipeline", "rejected")
    codepipeline = aws("codepipeline")
    token = wait_for(lambda: approval_token(codepipeline, "rejected-pipeline"), "the approval")
    codepipeline.put_approval_result(
        pipelineName="rejected-pipeline",
        stageName="ApproveDeployment",
        actionName="Approve",
        token=token,
        result={"summary": "not today", "status": "Rejected"},
    )
    done = wait_done(codepipeline, "rejected-pipeline", execution_id)
    assert done["status"] == "Failed" and "not today" in done["statusSummary"]
    assert stages(codepipeline, "rejected-pipeline")["ApproveDeployment"]["latestExecution"]["status"] == "Failed"
    assert not queue_exists(aws("sqs"), f"queue-{commit[:8]}")


def test_event_rule_with_pipeline_target_starts_an_execution_and_newer_supersedes_waiting(cloud, aws, bucket):
    make_repo(cloud.state.root, "evented", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    first = create_pipeline(aws, "evented-pipeline", "evented")
    events, codepipeline = aws("events"), aws("codepipeline")
    events.put_rule(Name="on-commit", EventPattern=json.dumps({"source": ["test.commit"]}))
    events.put_targets(
        Rule="on-commit",
        Targets=[
            {
                "Id": "pipeline",
                "Arn": f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:evented-pipeline",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/events-role",
            }
        ],
    )
    wait_for(lambda: approval_token(codepipeline, "evented-pipeline"), "the creation run's approval")
    events.put_events(Entries=[{"Source": "test.commit", "DetailType": "commit", "Detail": "{}"}])
    evented, created = codepipeline.list_pipeline_executions(pipelineName="evented-pipeline")[
        "pipelineExecutionSummaries"
    ]
    assert created["pipelineExecutionId"] == first
    assert evented["trigger"]["triggerType"] == "CloudWatchEvent"
    wait_for(
        lambda: (
            stages(codepipeline, "evented-pipeline")["Build"]["latestExecution"]["pipelineExecutionId"]
            == evented["pipelineExecutionId"]
        ),
        "the evented run to be past Source",
    )
    newer = codepipeline.start_pipeline_execution(name="evented-pipeline")["pipelineExecutionId"]
    assert wait_done(codepipeline, "evented-pipeline", evented["pipelineExecutionId"])["status"] == "Superseded"
    assert execution(codepipeline, "evented-pipeline", newer)["status"] == "InProgress", "superseding is one way"
    codepipeline.stop_pipeline_execution(
        pipelineName="evented-pipeline", pipelineExecutionId=first, abandon=True, reason="test over"
    )
    assert wait_done(codepipeline, "evented-pipeline", first)["status"] == "Stopped"
    token = wait_for(lambda: approval_token(codepipeline, "evented-pipeline"), "the newer execution's approval")
    codepipeline.put_approval_result(
        pipelineName="evented-pipeline",
        stageName="ApproveDeployment",
        actionName="Approve",
        token=token,
        result={"summary": "", "status": "Rejected"},
    )
    assert wait_done(codepipeline, "evented-pipeline", newer)["status"] == "Failed"


def _awaiting_approval(codepipeline, name: str) -> tuple[str, str] | None:
    """(execution id, token) of the approval the pipeline awaits, if any."""
    stage = stages(codepipeline, name)["ApproveDeployment"]
    latest = stage["actionStates"][0].get("latestExecution", {})
    if latest.get("status") == "InProgress" and latest.get("token"):
        return stage["latestExecution"]["pipelineExecutionId"], latest["token"]
    return None


def test_queued_mode_runs_every_waiting_execution_in_arrival_order(cloud, aws, bucket):
    make_repo(cloud.state.root, "queued", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    created = create_pipeline(aws, "queued-pipeline", "queued", mode="QUEUED")
    codepipeline = aws("codepipeline")
    wait_for(lambda: _awaiting_approval(codepipeline, "queued-pipeline"), "the creation run's approval")
    second = codepipeline.start_pipeline_execution(name="queued-pipeline")["pipelineExecutionId"]
    wait_for(
        lambda: (
            stages(codepipeline, "queued-pipeline")["Build"]["latestExecution"]
            == {"pipelineExecutionId": second, "status": "Succeeded"}
        ),
        "the second run to build",
    )
    third = codepipeline.start_pipeline_execution(name="queued-pipeline")["pipelineExecutionId"]
    approved = []
    for _ in range(3):
        execution_id, token = wait_for(
            lambda: (
                (found := _awaiting_approval(codepipeline, "queued-pipeline")) and found[0] not in approved and found
            ),
            "the next approval",
        )
        approved.append(execution_id)
        codepipeline.put_approval_result(
            pipelineName="queued-pipeline",
            stageName="ApproveDeployment",
            actionName="Approve",
            token=token,
            result={"summary": "", "status": "Approved"},
        )
        assert wait_done(codepipeline, "queued-pipeline", execution_id)["status"] == "Succeeded"
    assert approved == [created, second, third], "queued runs wait their turn, none is superseded"


def test_create_pipeline_with_a_role_codepipeline_cannot_assume_starts_nothing(cloud, aws):
    codepipeline = aws("codepipeline")
    stage = {
        "name": "Source",
        "actions": [
            {
                "name": "Source",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": "nowhere", "BranchName": "main"},
                "outputArtifacts": [{"name": "SourceArtifact"}],
            }
        ],
    }
    declaration = {
        "name": "unassumable-pipeline",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/no-such-role",
        "stages": [stage, {**stage, "name": "Again"}],
        "artifactStore": {"type": "S3", "location": BUCKET},
    }
    with pytest.raises(codepipeline.exceptions.InvalidStructureException, match="not authorized to perform AssumeRole"):
        codepipeline.create_pipeline(pipeline=declaration)
    with pytest.raises(codepipeline.exceptions.PipelineNotFoundException):
        codepipeline.list_pipeline_executions(pipelineName="unassumable-pipeline")


def test_codeconnections_source_maps_to_the_local_repository_of_that_name(cloud, aws, bucket):
    commit = make_repo(cloud.state.root, "connected-app", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    execution_id = create_pipeline(aws, "connected-pipeline", "connected-app", with_approval=False, connection=True)
    codepipeline = aws("codepipeline")
    assert wait_done(codepipeline, "connected-pipeline", execution_id)["status"] == "Succeeded"
    assert queue_exists(aws("sqs"), f"queue-{commit[:8]}"), "the build saw the connected repository's commit"


def test_unknown_pipeline_is_a_clear_error(cloud, aws):
    codepipeline = aws("codepipeline")
    with pytest.raises(codepipeline.exceptions.PipelineNotFoundException, match="no-such-pipeline"):
        codepipeline.start_pipeline_execution(name="no-such-pipeline")


def test_waiting_approval_survives_a_kill_9_restart_and_then_deploys(tmp_path, monkeypatch):
    import os
    import signal
    import socket

    import boto3

    from localcloud.core import config
    from localcloud.tools import daemon

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status = daemon.start(tmp_path, port)
    try:
        for key, value in config.client_environment(status.url, state=tmp_path).items():
            monkeypatch.setenv(key, value)

        def aws(service):
            return boto3.client(service, endpoint_url=status.url, region_name=REGION)

        aws("s3").create_bucket(Bucket=BUCKET)
        commit = make_repo(tmp_path, "durable", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
        execution_id = create_pipeline(aws, "durable-pipeline", "durable")
        codepipeline = aws("codepipeline")
        token = wait_for(lambda: approval_token(codepipeline, "durable-pipeline"), "the approval")

        os.kill(status.pid, signal.SIGKILL)
        while daemon.status(tmp_path).running:
            time.sleep(0.02)
        status = daemon.start(tmp_path, port)
        codepipeline = aws("codepipeline")
        assert execution(codepipeline, "durable-pipeline", execution_id)["status"] == "InProgress"
        assert approval_token(codepipeline, "durable-pipeline") == token, "the same approval is still awaited"
        codepipeline.put_approval_result(
            pipelineName="durable-pipeline",
            stageName="ApproveDeployment",
            actionName="Approve",
            token=token,
            result={"summary": "", "status": "Approved"},
        )
        assert wait_done(codepipeline, "durable-pipeline", execution_id)["status"] == "Succeeded"
        assert queue_exists(aws("sqs"), f"queue-{commit[:8]}")
    finally:
        daemon.stop(tmp_path)
