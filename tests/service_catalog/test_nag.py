"""cdk-nag AwsSolutions: zero unacknowledged findings, and every acknowledgement says why."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from service_catalog.app import build_app
from service_catalog.nag import acknowledge, flatten_reference
from service_catalog.project.iam import acknowledge_wildcards, allow
from tests.service_catalog.conftest import REPO_ROOT

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"


def acknowledgements(synthesized) -> dict[str, dict[str, str]]:
    """construct path -> {rule id: reason}, as recorded in the cloud assembly."""
    metadata = json.loads((synthesized.result.cdk_out / "SageMakerMLOpsPortfolio.metadata.json").read_text())
    found: dict[str, dict[str, str]] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry["type"] == ACKNOWLEDGED:
                found.setdefault(path, {}).update(entry["data"])
    return found


def test_synthesis_reports_no_unacknowledged_finding(synthesized):
    report = json.loads((synthesized.result.cdk_out / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_every_acknowledgement_carries_a_reason(synthesized):
    found = acknowledgements(synthesized)
    assert found, "expected the wildcard acknowledgements in the cloud assembly"
    for path, rules in found.items():
        for rule_id, reason in rules.items():
            assert len(reason.strip()) >= 20, (path, rule_id, reason)


def test_only_wildcard_resources_and_bucket_access_logs_are_acknowledged(synthesized):
    rule_ids = {rule_id.split("::", 1)[1] for rules in acknowledgements(synthesized).values() for rule_id in rules}
    assert {rule_id for rule_id in rule_ids if not rule_id.startswith("AwsSolutions-IAM5[Resource::")} == {
        "AwsSolutions-S1"
    }


def test_a_wildcard_without_a_reason_is_refused():
    statement = allow(["s3:GetObject"], "arn:aws:s3:::bucket/*")
    with pytest.raises(ValueError, match="has a wildcard: pass why="):
        acknowledge_wildcards(cdk.Stack(), [statement])


def test_wildcard_actions_are_refused():
    with pytest.raises(ValueError, match="wildcard action 's3:Get\\*'"):
        allow(["s3:Get*"], "arn:aws:s3:::bucket")


def test_acknowledgements_need_a_real_reason():
    with pytest.raises(ValueError, match="needs a real reason"):
        acknowledge(None, "AwsSolutions-S1", "because")


def test_findings_are_named_like_cdk_nag_names_them():
    resolved = {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/", {"Ref": "Prefix"}, "/*"]]}
    assert flatten_reference(resolved) == "<Bucket.Arn>/<Prefix>/*"
    assert (
        flatten_reference({"Fn::Sub": "arn:${AWS::Partition}:s3:::x-${Id}/*"}) == "arn:<AWS::Partition>:s3:::x-<Id>/*"
    )


def test_an_unacknowledged_finding_fails_synthesis(tmp_path):
    built = build_app(repo_root=REPO_ROOT, outdir=tmp_path / "out", files_dir=tmp_path / "files")
    s3.CfnBucket(built.stack.product_stack, "UnencryptedBucket")
    with pytest.raises(Exception, match="ValidationFailed"):
        built.app.synth()
    report = json.loads((tmp_path / "out" / "validation-report.json").read_text())
    flagged = {
        v["ruleName"]
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        if any(c["constructPath"].endswith("/UnencryptedBucket") for c in v["violatingConstructs"])
    }
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= flagged
