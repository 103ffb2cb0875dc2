"""EventBridge rules start the right pipeline for the right events, and only those.

Patterns are checked twice: literally (CDK assertions) and by matching real
events with moto's EventBridge pattern engine, the one the local cloud uses.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from tests.service_catalog.conftest import PROJECT
from tests.service_catalog.template_tools import of_type, render

GROUP = "churn-model-p-abc123def456"
BUCKET = "sagemaker-project-p-abc123def456"
ACCOUNT_REGION = "us-east-1:123456789012"
MODELBUILD_PIPELINE = f"arn:aws:codepipeline:{ACCOUNT_REGION}:sagemaker-churn-model-p-abc123def456-modelbuild"
MODELDEPLOY_PIPELINE = f"arn:aws:codepipeline:{ACCOUNT_REGION}:sagemaker-churn-model-p-abc123def456-modeldeploy"
MODELBUILD_REPO = f"arn:aws:codecommit:{ACCOUNT_REGION}:sagemaker-churn-model-modelbuild"
MODELDEPLOY_REPO = f"arn:aws:codecommit:{ACCOUNT_REGION}:sagemaker-churn-model-modeldeploy"


def rules(product: dict, **parameters: str) -> list[dict]:
    rendered = render(product, {**PROJECT, **parameters})
    return [rule["Properties"] for rule in of_type(rendered, "AWS::Events::Rule").values()]


def matching(rule_list: list[dict], event: dict) -> list[str]:
    """Targets of the rules that `event` matches."""
    targets = []
    for rule in rule_list:
        if "EventPattern" in rule and EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event):
            targets.extend(target["Arn"] for target in rule["Targets"])
    return targets


def package_event(status: str, group: str = GROUP) -> dict:
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "resources": [f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/3"],
        "detail": {"ModelPackageGroupName": group, "ModelPackageVersion": 3, "ModelApprovalStatus": status},
    }


def push_event(repository_arn: str, branch: str = "main", reference_type: str = "branch") -> dict:
    return {
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Repository State Change",
        "resources": [repository_arn],
        "detail": {
            "event": "referenceUpdated",
            "referenceType": reference_type,
            "referenceName": branch,
            "repositoryName": repository_arn.rsplit(":", 1)[1],
        },
    }


def object_created(key: str, bucket: str = BUCKET) -> dict:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}},
    }


def test_approval_rule_pattern_is_exact(product):
    Template.from_json(product).has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_equals(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Model Package State Change"],
                    "detail": {
                        "ModelPackageGroupName": [{"Fn::Sub": "${SageMakerProjectName}-${SageMakerProjectId}"}],
                        "ModelApprovalStatus": ["Approved"],
                    },
                }
            )
        },
    )


def test_only_an_approval_in_this_projects_group_starts_modeldeploy(product):
    rule_list = rules(product)
    assert matching(rule_list, package_event("Approved")) == [MODELDEPLOY_PIPELINE]
    assert matching(rule_list, package_event("Rejected")) == []
    assert matching(rule_list, package_event("PendingManualApproval")) == []
    assert matching(rule_list, package_event("Approved", group="other-project-p-000000000000")) == []


def test_push_to_each_repository_branch_starts_its_own_pipeline(product):
    rule_list = rules(product)
    assert matching(rule_list, push_event(MODELBUILD_REPO)) == [MODELBUILD_PIPELINE]
    assert matching(rule_list, push_event(MODELDEPLOY_REPO)) == [MODELDEPLOY_PIPELINE]


@pytest.mark.parametrize(
    "event",
    [
        push_event(MODELBUILD_REPO, branch="feature/experiment"),
        push_event(MODELBUILD_REPO, branch="v1.0", reference_type="tag"),
        push_event(f"arn:aws:codecommit:{ACCOUNT_REGION}:sagemaker-other-modelbuild"),
    ],
    ids=["other-branch", "tag", "other-repository"],
)
def test_other_pushes_start_nothing(product, event):
    assert matching(rules(product), event) == []


def test_branch_parameter_moves_the_push_trigger(product):
    rule_list = rules(product, SourceBranch="release")
    assert matching(rule_list, push_event(MODELBUILD_REPO, branch="release")) == [MODELBUILD_PIPELINE]
    assert matching(rule_list, push_event(MODELBUILD_REPO, branch="main")) == []


def test_data_arrival_trigger_is_off_by_default(product):
    assert matching(rules(product), object_created("data/new.csv")) == []


def test_data_arrival_trigger_starts_modelbuild_for_the_data_prefix_only(product):
    rule_list = rules(product, DataArrivalTrigger="true")
    assert matching(rule_list, object_created("data/2026/new.csv")) == [MODELBUILD_PIPELINE]
    assert matching(rule_list, object_created("models/model.tar.gz")) == []
    assert matching(rule_list, object_created("data/new.csv", bucket="someone-elses-bucket")) == []


def test_retraining_schedule_only_when_given(product):
    assert not [rule for rule in rules(product) if "ScheduleExpression" in rule]
    scheduled = [rule for rule in rules(product, RetrainingSchedule="rate(7 days)") if "ScheduleExpression" in rule]
    assert [(rule["ScheduleExpression"], rule["Targets"][0]["Arn"]) for rule in scheduled] == [
        ("rate(7 days)", MODELBUILD_PIPELINE)
    ]


def test_targets_are_the_pipelines_the_template_creates(product):
    rendered = render(product, PROJECT)
    names = {
        f"arn:aws:codepipeline:{ACCOUNT_REGION}:{pipeline['Properties']['Name']}"
        for pipeline in of_type(rendered, "AWS::CodePipeline::Pipeline").values()
    }
    assert names == {MODELBUILD_PIPELINE, MODELDEPLOY_PIPELINE}


def test_eventbridge_may_start_exactly_these_pipelines(product):
    rendered = render(product, PROJECT)
    role_ids = {
        rule["Properties"]["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
        for rule in of_type(rendered, "AWS::Events::Rule").values()
    }
    assert len(role_ids) == 1
    (statement,) = rendered["Resources"][role_ids.pop()]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["codepipeline:StartPipelineExecution"]
    assert sorted(statement["Resource"]) == [MODELBUILD_PIPELINE, MODELDEPLOY_PIPELINE]
