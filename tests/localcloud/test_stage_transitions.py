"""A disabled stage transition holds executions at the boundary, as CodePipeline's does."""

from __future__ import annotations

import pytest

from tests.localcloud.test_codebuild import make_repo
from tests.localcloud.test_codepipeline import (
    BUILDSPEC,
    TEMPLATE,
    create_pipeline,
    execution,
    stages,
    wait_done,
    wait_for,
)


@pytest.fixture(scope="module")
def bucket(cloud):
    from tests.localcloud.test_codepipeline import BUCKET

    cloud.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def test_a_disabled_transition_holds_executions_until_it_is_enabled(cloud, aws, bucket):
    make_repo(cloud.state.root, "held", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    create_pipeline(aws, "held-pipeline", "held", with_approval=False)
    codepipeline = aws("codepipeline")
    codepipeline.disable_stage_transition(
        pipelineName="held-pipeline", stageName="Build", transitionType="Inbound", reason="Freeze for the audit"
    )
    inbound = stages(codepipeline, "held-pipeline")["Build"]["inboundTransitionState"]
    assert inbound["enabled"] is False and inbound["disabledReason"] == "Freeze for the audit"
    assert inbound["lastChangedBy"].startswith("arn:aws:iam::") and inbound["lastChangedAt"]

    first = codepipeline.start_pipeline_execution(name="held-pipeline")["pipelineExecutionId"]
    wait_for(
        lambda: stages(codepipeline, "held-pipeline")["Source"].get("latestExecution", {}).get("status") == "Succeeded",
        "the source stage",
    )
    second = codepipeline.start_pipeline_execution(name="held-pipeline")["pipelineExecutionId"]
    # the first was waiting at the boundary: the second, arriving there too, supersedes it (SUPERSEDED mode)
    assert wait_done(codepipeline, "held-pipeline", first)["status"] == "Superseded"
    assert "latestExecution" not in stages(codepipeline, "held-pipeline")["Build"]
    assert execution(codepipeline, "held-pipeline", second)["status"] == "InProgress"

    codepipeline.enable_stage_transition(pipelineName="held-pipeline", stageName="Build", transitionType="Inbound")
    assert stages(codepipeline, "held-pipeline")["Build"]["inboundTransitionState"]["enabled"] is True
    assert wait_done(codepipeline, "held-pipeline", second)["status"] == "Succeeded"
    state = stages(codepipeline, "held-pipeline")
    assert state["Build"]["latestExecution"] == {"pipelineExecutionId": second, "status": "Succeeded"}


def test_an_outbound_transition_holds_executions_after_the_stage(cloud, aws, bucket):
    make_repo(cloud.state.root, "held-out", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    create_pipeline(aws, "held-out-pipeline", "held-out", with_approval=False)
    codepipeline = aws("codepipeline")
    codepipeline.disable_stage_transition(
        pipelineName="held-out-pipeline", stageName="Build", transitionType="Outbound", reason="Hold deploys"
    )
    first = codepipeline.start_pipeline_execution(name="held-out-pipeline")["pipelineExecutionId"]
    wait_for(
        lambda: (
            stages(codepipeline, "held-out-pipeline")["Build"].get("latestExecution", {}).get("status") == "Succeeded"
        ),
        "the build stage",
    )
    second = codepipeline.start_pipeline_execution(name="held-out-pipeline")["pipelineExecutionId"]
    wait_for(
        lambda: (
            stages(codepipeline, "held-out-pipeline")["Build"]["latestExecution"]["pipelineExecutionId"] == second
            and stages(codepipeline, "held-out-pipeline")["Build"]["latestExecution"]["status"] == "Succeeded"
        ),
        "the second build",
    )
    assert wait_done(codepipeline, "held-out-pipeline", first)["status"] == "Superseded"
    assert "latestExecution" not in stages(codepipeline, "held-out-pipeline")["Deploy"]
    codepipeline.enable_stage_transition(pipelineName="held-out-pipeline", stageName="Build", transitionType="Outbound")
    assert wait_done(codepipeline, "held-out-pipeline", second)["status"] == "Succeeded"


@pytest.fixture(scope="module")
def bad_pipeline(cloud, bucket):
    make_repo(cloud.state.root, "held-bad", {"buildspec.yml": BUILDSPEC, "template.yml": TEMPLATE})
    create_pipeline(cloud.client, "held-bad-pipeline", "held-bad", with_approval=False)
    return "held-bad-pipeline"


@pytest.mark.parametrize(
    ("arguments", "code", "words"),
    [
        ({"stageName": "Nowhere", "transitionType": "Inbound"}, "StageNotFoundException", "Nowhere"),
        ({"stageName": "Build", "transitionType": "Sideways"}, "ValidationException", "transitionType"),
        ({"stageName": "Source", "transitionType": "Inbound"}, "ValidationException", "first stage"),
        ({"stageName": "Build", "transitionType": "Inbound", "reason": "no <tags>"}, "ValidationException", "reason"),
    ],
)
def test_bad_transition_requests_name_what_is_wrong(aws, bad_pipeline, arguments, code, words):
    codepipeline = aws("codepipeline")
    with pytest.raises(codepipeline.exceptions.ClientError) as refused:
        codepipeline.disable_stage_transition(pipelineName="held-bad-pipeline", **{"reason": "Freeze", **arguments})
    assert refused.value.response["Error"]["Code"] == code
    assert words in refused.value.response["Error"]["Message"]
    with pytest.raises(codepipeline.exceptions.PipelineNotFoundException):
        codepipeline.enable_stage_transition(
            pipelineName="no-such-pipeline", stageName="Build", transitionType="Inbound"
        )
