"""Product parameters: SageMaker's constraints, optional triggers, clear errors on bad input."""

from __future__ import annotations

import re

import pytest


def pattern(product: dict, name: str) -> re.Pattern:
    return re.compile(product["Parameters"][name]["AllowedPattern"])


def test_project_name_uses_sagemakers_own_constraints(product):
    spec = product["Parameters"]["SageMakerProjectName"]
    assert spec["AllowedPattern"] == r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$"
    assert (spec["MinLength"], spec["MaxLength"]) == (1, 32)
    assert "SageMakerProjectName" in spec["ConstraintDescription"]


@pytest.mark.parametrize("name", ["a", "churn-model", "Model2", "a--b", "x" * 32])
def test_valid_project_names_are_accepted(product, name):
    assert pattern(product, "SageMakerProjectName").match(name)


@pytest.mark.parametrize("name", ["", "-lead", "trail-", "under_score", "dot.name", "x" * 33])
def test_invalid_project_names_are_refused(product, name):
    assert not pattern(product, "SageMakerProjectName").match(name)


def test_project_id_must_fit_a_bucket_name(product):
    project_id = pattern(product, "SageMakerProjectId")
    assert project_id.match("p-abc123def456")
    assert not project_id.match("P-UPPER")
    assert not project_id.match("p-" + "a" * 30)


@pytest.mark.parametrize("schedule", ["", "rate(7 days)", "rate(1 hour)", "cron(0 3 ? * MON *)"])
def test_schedule_accepts_empty_rate_and_cron(product, schedule):
    assert pattern(product, "RetrainingSchedule").match(schedule)


@pytest.mark.parametrize("schedule", ["daily", "rate(7 fortnights)", "cron 0 3 * * *"])
def test_schedule_refuses_other_text(product, schedule):
    assert not pattern(product, "RetrainingSchedule").match(schedule)


def test_optional_features_default_to_off_and_codecommit(product):
    parameters = product["Parameters"]
    assert parameters["RetrainingSchedule"]["Default"] == ""
    assert parameters["DataArrivalTrigger"]["Default"] == "false"
    assert parameters["DataArrivalTrigger"]["AllowedValues"] == ["true", "false"]
    assert parameters["SourceConnectionArn"]["Default"] == ""
    assert parameters["SourceBranch"]["Default"] == "main"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        (
            "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
            True,
        ),
        ("arn:aws:codestar-connections:us-east-1:123456789012:connection/abc-123", True),
        ("arn:aws:iam::123456789012:role/not-a-connection", False),
        ("github.com/org/repo", False),
    ],
)
def test_connection_arn_pattern(product, value, valid):
    assert bool(pattern(product, "SourceConnectionArn").match(value)) is valid


def test_a_connection_without_repository_ids_is_refused_with_a_clear_message(product):
    rule = product["Rules"]["ConnectionNeedsRepositories"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SourceConnectionArn"}, ""]}]}
    asserted = {a["Assert"]["Fn::Not"][0]["Fn::Equals"][0]["Ref"]: a["AssertDescription"] for a in rule["Assertions"]}
    assert set(asserted) == {"ModelBuildRepositoryId", "ModelDeployRepositoryId"}
    assert all(name in message for name, message in asserted.items())
