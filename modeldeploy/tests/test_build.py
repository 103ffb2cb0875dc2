"""build.py against a moto-backed SageMaker: which package it deploys, what it writes, how it fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest
from conftest import REPO, ROLE_ARN, register_package

import build
from model_registry import NoApprovedModelPackage, latest_approved_model_package
from template_parameters import load_parameters, required_parameters

PROJECT = "churn-model"
PROJECT_ID = "p-abc123def456"


def build_environment(group: str) -> dict[str, str]:
    return {
        "SAGEMAKER_PROJECT_NAME": PROJECT,
        "SAGEMAKER_PROJECT_ID": PROJECT_ID,
        "ARTIFACT_BUCKET": f"sagemaker-project-{PROJECT_ID}",
        "MODEL_EXECUTION_ROLE_ARN": ROLE_ARN,
        "MODEL_PACKAGE_GROUP_NAME": group,
        "EXPORT_TEMPLATE_NAME": "template-export.yml",
        "EXPORT_TEMPLATE_STAGING_CONFIG": "staging-config-export.json",
        "EXPORT_TEMPLATE_PROD_CONFIG": "prod-config-export.json",
    }


def run_build(group: str, monkeypatch, **overrides: str) -> int:
    for name, value in {**build_environment(group), **overrides}.items():
        monkeypatch.setenv(name, value)
    return build.main([])


def exported(name: str) -> dict:
    return json.loads(Path(name).read_text())


def test_deploys_newest_approved_package_ignoring_pending_and_rejected(sagemaker, group_name, repo_copy, monkeypatch):
    register_package(sagemaker, group_name, "Approved")
    newest_approved = register_package(sagemaker, group_name, "Approved")
    register_package(sagemaker, group_name, "Rejected")
    register_package(sagemaker, group_name, "PendingManualApproval")

    assert run_build(group_name, monkeypatch) == 0

    for name in ("staging-config-export.json", "prod-config-export.json"):
        assert exported(name)["Parameters"]["ModelPackageName"] == newest_approved


def test_a_package_approved_later_does_not_beat_a_newer_approved_one(sagemaker, group_name):
    older = register_package(sagemaker, group_name, "PendingManualApproval")
    newer = register_package(sagemaker, group_name, "Approved")
    sagemaker.update_model_package(ModelPackageArn=older, ModelApprovalStatus="Approved")

    assert latest_approved_model_package(sagemaker, group_name)["ModelPackageArn"] == newer


def test_a_rejected_newest_package_falls_back_to_the_previous_approved_one(sagemaker, group_name):
    previous = register_package(sagemaker, group_name, "Approved")
    newest = register_package(sagemaker, group_name, "Approved")
    sagemaker.update_model_package(ModelPackageArn=newest, ModelApprovalStatus="Rejected")

    assert latest_approved_model_package(sagemaker, group_name)["ModelPackageArn"] == previous


class PagedRegistry:
    """A registry whose first page is empty and that ignores the status filter, as a quirky backend might."""

    def __init__(self, pages):
        self.pages = pages

    def get_paginator(self, operation):
        assert operation == "list_model_packages"
        return self

    def paginate(self, **kwargs):
        return iter(self.pages)


def test_pages_past_empty_pages_and_never_takes_an_unapproved_summary():
    from datetime import datetime

    def summary(arn, status):
        return {"ModelPackageArn": arn, "ModelApprovalStatus": status, "CreationTime": datetime.now(UTC)}

    registry = PagedRegistry(
        [
            {"ModelPackageSummaryList": [], "NextToken": "t1"},
            {"ModelPackageSummaryList": [summary("pending", "PendingManualApproval"), summary("good", "Approved")]},
        ]
    )
    assert latest_approved_model_package(registry, "group")["ModelPackageArn"] == "good"


def test_no_approved_package_fails_and_says_how_to_approve(sagemaker, group_name, repo_copy, monkeypatch, capsys):
    pending = register_package(sagemaker, group_name, "PendingManualApproval")
    register_package(sagemaker, group_name, "Rejected")

    assert run_build(group_name, monkeypatch) == 1

    error = capsys.readouterr().err
    assert f"No Approved model package in model package group '{group_name}'" in error
    assert "1 PendingManualApproval, 1 Rejected" in error
    assert "--model-approval-status Approved" in error
    assert pending in error
    assert not any(
        Path(name).exists() for name in build_environment(group_name).values() if name.endswith((".yml", ".json"))
    )


def test_empty_group_says_to_run_the_build_pipeline(sagemaker, group_name):
    with pytest.raises(NoApprovedModelPackage, match="the group is empty. Run the ModelBuild pipeline"):
        latest_approved_model_package(sagemaker, group_name)


def test_missing_group_names_the_group_and_the_setting(sagemaker):
    with pytest.raises(NoApprovedModelPackage, match="'no-such-group'.*does not exist.*MODEL_PACKAGE_GROUP_NAME"):
        latest_approved_model_package(sagemaker, "no-such-group")


def test_missing_environment_variables_are_named(repo_copy, monkeypatch, capsys, aws_env):
    monkeypatch.delenv("MODEL_EXECUTION_ROLE_ARN", raising=False)
    monkeypatch.delenv("ARTIFACT_BUCKET", raising=False)
    for name, value in build_environment("any").items():
        if name not in ("MODEL_EXECUTION_ROLE_ARN", "ARTIFACT_BUCKET"):
            monkeypatch.setenv(name, value)

    assert build.main([]) == 1
    assert "missing environment variable(s): ARTIFACT_BUCKET, MODEL_EXECUTION_ROLE_ARN" in capsys.readouterr().err


def test_exports_stage_parameters_tags_and_template(sagemaker, group_name, repo_copy, monkeypatch):
    package = register_package(sagemaker, group_name, "Approved")
    assert run_build(group_name, monkeypatch) == 0

    staging = exported("staging-config-export.json")
    prod = exported("prod-config-export.json")
    assert set(staging) == {"Parameters", "Tags"}
    expected_common = {
        "SageMakerProjectName": PROJECT,
        "SageMakerProjectId": PROJECT_ID,
        "ModelPackageName": package,
        "ModelExecutionRoleArn": ROLE_ARN,
    }
    for stage, document in (("staging", staging), ("prod", prod)):
        parameters = document["Parameters"]
        assert parameters.items() >= expected_common.items()
        assert parameters["StageName"] == stage
        assert parameters["EndpointName"] == f"{PROJECT}-{stage}"
        assert parameters["DataCaptureUploadPath"] == f"s3://sagemaker-project-{PROJECT_ID}/datacapture-{stage}"
        assert all(isinstance(value, str) for value in parameters.values()), "CloudFormation wants strings"
        assert document["Tags"]["sagemaker:deployment-stage"] == stage
        assert document["Tags"]["sagemaker:project-id"] == PROJECT_ID

    # values from the stage files arrive as CloudFormation strings
    assert staging["Parameters"]["EndpointInstanceCount"] == "1"
    assert staging["Parameters"]["EnableDataCapture"] == "true"
    assert staging["Parameters"]["TrafficRoutingType"] == "ALL_AT_ONCE"
    assert int(prod["Parameters"]["EndpointInstanceCount"]) >= 2
    assert prod["Parameters"]["TrafficRoutingType"] in ("CANARY", "LINEAR")

    assert Path("template-export.yml").read_text() == (REPO / "endpoint-config-template.yml").read_text()


def test_every_exported_key_is_a_template_parameter_and_every_required_one_is_set(
    sagemaker, group_name, repo_copy, monkeypatch
):
    register_package(sagemaker, group_name, "Approved")
    assert run_build(group_name, monkeypatch) == 0

    template_parameters = load_parameters(REPO / "endpoint-config-template.yml")
    for name in ("staging-config-export.json", "prod-config-export.json"):
        parameters = exported(name)["Parameters"]
        assert set(parameters) <= set(template_parameters), name
        assert required_parameters(template_parameters) <= set(parameters), name


def test_invalid_stage_file_fails_before_anything_is_written(sagemaker, group_name, repo_copy, monkeypatch, capsys):
    register_package(sagemaker, group_name, "Approved")
    config = json.loads(Path("prod-config.json").read_text())
    config["Parameters"]["EndpointInstanceCount"] = "2"
    Path("prod-config.json").write_text(json.dumps(config))

    assert run_build(group_name, monkeypatch) == 1

    error = capsys.readouterr().err
    assert "prod-config.json: Parameters.EndpointInstanceCount must be an integer" in error
    assert not Path("staging-config-export.json").exists()
    assert not Path("template-export.yml").exists()


def test_command_line_run_against_a_local_endpoint(sagemaker, group_name, repo_copy, aws_env):
    """The buildspec's exact command, in a fresh process that only knows AWS_ENDPOINT_URL."""
    package = register_package(sagemaker, group_name, "Approved")
    environment = {**os.environ, **aws_env, **build_environment(group_name)}
    completed = subprocess.run(
        [sys.executable, str(REPO / "build.py")],
        cwd=repo_copy,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert exported("prod-config-export.json")["Parameters"]["ModelPackageName"] == package
    assert Path("template-export.yml").exists()
