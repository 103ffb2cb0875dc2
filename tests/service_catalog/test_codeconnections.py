"""Source provider variants: CodeCommit (seeded repositories) or a CodeConnections connection."""

from __future__ import annotations

from tests.service_catalog.conftest import PROJECT
from tests.service_catalog.template_tools import of_type, references, render

CONNECTION = {
    "SourceConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000",
    "ModelBuildRepositoryId": "acme/churn-modelbuild",
    "ModelDeployRepositoryId": "acme/churn-modeldeploy",
    "SourceBranch": "trunk",
}


def source_actions(rendered: dict) -> dict[str, dict]:
    return {
        pipeline["Properties"]["Name"].rsplit("-", 1)[1]: pipeline["Properties"]["Stages"][0]["Actions"][0]
        for pipeline in of_type(rendered, "AWS::CodePipeline::Pipeline").values()
    }


def test_codecommit_variant_seeds_two_repositories_from_the_published_archives(product, synthesized):
    rendered = render(product, PROJECT)
    repositories = {
        r["Properties"]["RepositoryName"]: r["Properties"]
        for r in of_type(rendered, "AWS::CodeCommit::Repository").values()
    }
    assert sorted(repositories) == ["sagemaker-churn-model-modelbuild", "sagemaker-churn-model-modeldeploy"]
    published = {
        asset["displayName"]: next(iter(asset["destinations"].values()))
        for asset in synthesized.assets_manifest["files"].values()
    }
    for name, seed in (("modelbuild", "ModelBuildSeedCode"), ("modeldeploy", "ModelDeploySeedCode")):
        code = repositories[f"sagemaker-churn-model-{name}"]["Code"]
        assert code["BranchName"] == "main"
        assert code["S3"] == {"Bucket": "test-template-assets", "Key": published[seed]["objectKey"]}
        assert published[seed]["bucketName"] == "test-template-assets"


def test_connection_variant_creates_no_codecommit_repository(product):
    rendered = render(product, {**PROJECT, **CONNECTION})
    assert of_type(rendered, "AWS::CodeCommit::Repository") == {}
    assert not [
        rule
        for rule in of_type(rendered, "AWS::Events::Rule").values()
        if rule["Properties"].get("EventPattern", {}).get("source") == ["aws.codecommit"]
    ]
    policies = [p["Properties"]["PolicyDocument"] for p in of_type(rendered, "AWS::IAM::Policy").values()]
    assert not [s for d in policies for s in d["Statement"] if any(a.startswith("codecommit:") for a in s["Action"])]


def test_connection_variant_sources_both_pipelines_from_the_connection(product):
    rendered = render(product, {**PROJECT, **CONNECTION})
    sources = source_actions(rendered)
    assert sorted(sources) == ["modelbuild", "modeldeploy"]
    for name, action in sources.items():
        assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
        config = action["Configuration"]
        assert config["ConnectionArn"] == CONNECTION["SourceConnectionArn"]
        assert config["FullRepositoryId"] == CONNECTION[f"Model{name[5:].capitalize()}RepositoryId"]
        assert config["BranchName"] == "trunk"


def test_connection_variant_lets_pipelines_use_only_that_connection(product):
    rendered = render(product, {**PROJECT, **CONNECTION})
    statements = [
        s
        for p in of_type(rendered, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "codeconnections:UseConnection" in s["Action"]
    ]
    assert len(statements) == 2
    assert all(s["Resource"] == [CONNECTION["SourceConnectionArn"]] for s in statements)


def test_every_variant_references_only_resources_it_creates(product):
    variants = [
        PROJECT,
        {**PROJECT, **CONNECTION},
        {**PROJECT, "DataArrivalTrigger": "true", "RetrainingSchedule": "rate(1 day)"},
    ]
    for parameters in variants:
        rendered = render(product, parameters)
        dangling = references(rendered["Resources"]) - set(rendered["Resources"]) - set(product["Parameters"])
        dangling = {name for name in dangling if not name.startswith("AWS::")}
        assert dangling == set(), parameters
