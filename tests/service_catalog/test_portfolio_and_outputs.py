"""The portfolio stack, and what synthesis leaves in cdk.out/ and dist/ for publishing."""

from __future__ import annotations

import json
import re
import zipfile

from aws_cdk.assertions import Match, Template

from service_catalog.app import HANDLER_SOURCE
from tests.service_catalog.template_tools import of_type

# The local cloud must know each of these to provision the product (see service_catalog/README.md).
PRODUCT_RESOURCE_TYPES = {
    "AWS::CloudFormation::CustomResource",
    "AWS::CodeBuild::Project",
    "AWS::CodeCommit::Repository",
    "AWS::CodePipeline::Pipeline",
    "AWS::Events::Rule",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::SageMaker::ModelPackageGroup",
}
PRODUCT_GETATTS = {
    ("AWS::CodeCommit::Repository", "Name"),
    ("AWS::IAM::Role", "Arn"),
    ("AWS::KMS::Key", "Arn"),
    ("AWS::Lambda::Function", "Arn"),
    ("AWS::S3::Bucket", "Arn"),
}
PRODUCT_REFS = {"AWS::CodeBuild::Project", "AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::S3::Bucket"}


def intrinsic_uses(template: dict) -> tuple[set, set]:
    types = {lid: r["Type"] for lid, r in template["Resources"].items()}
    getatts, refs = set(), set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::GetAtt":
                    getatts.add((types[value[0]], value[1]))
                elif key == "Ref" and value in types:
                    refs.add(types[value])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(template["Resources"])
    return getatts, refs


def test_product_uses_only_the_documented_resource_types_and_attributes(product):
    assert {r["Type"] for r in product["Resources"].values()} == PRODUCT_RESOURCE_TYPES
    assert intrinsic_uses(product) == (PRODUCT_GETATTS, PRODUCT_REFS)


def test_product_is_visible_in_studio_and_loads_the_product_template(synthesized):
    template = Template.from_json(synthesized.portfolio)
    template.has_resource_properties(
        "AWS::ServiceCatalog::CloudFormationProduct",
        {"Tags": Match.array_with([{"Key": "sagemaker:studio-visibility", "Value": "true"}])},
    )
    (product,) = of_type(synthesized.portfolio, "AWS::ServiceCatalog::CloudFormationProduct").values()
    (artifact,) = product["Properties"]["ProvisioningArtifactParameters"]
    url = artifact["Info"]["LoadTemplateFromURL"]["Fn::Sub"]
    key = url.rsplit("/", 1)[1]
    (published,) = [
        asset
        for asset in synthesized.assets_manifest["files"].values()
        if next(iter(asset["destinations"].values()))["objectKey"] == key
    ]
    staged = synthesized.result.cdk_out / published["source"]["path"]
    assert json.loads(staged.read_text()) == synthesized.product
    assert "/test-template-assets/" in url


def test_launch_role_constraint_uses_a_role_service_catalog_can_assume(synthesized):
    portfolio = synthesized.portfolio
    (constraint,) = of_type(portfolio, "AWS::ServiceCatalog::LaunchRoleConstraint").values()
    role_id = constraint["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    role = portfolio["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "servicecatalog.amazonaws.com"}
    (association,) = of_type(portfolio, "AWS::ServiceCatalog::PortfolioProductAssociation").values()
    assert constraint["Properties"]["ProductId"] == association["Properties"]["ProductId"]


def test_studio_role_is_a_validated_parameter_associated_with_the_portfolio(synthesized):
    portfolio = synthesized.portfolio
    parameter = portfolio["Parameters"]["StudioExecutionRoleArn"]
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-1")
    assert not pattern.match("AmazonSageMaker-ExecutionRole")
    assert "StudioExecutionRoleArn" in parameter["ConstraintDescription"]
    (association,) = of_type(portfolio, "AWS::ServiceCatalog::PortfolioPrincipalAssociation").values()
    assert association["Properties"]["PrincipalARN"] == {"Ref": "StudioExecutionRoleArn"}
    assert association["Properties"]["PrincipalType"] == "IAM"


def test_s3_project_template_is_the_product_with_its_files_under_their_keys(synthesized):
    exported = synthesized.result.project_template
    assert json.loads(exported.read_text()) == synthesized.product
    listing = json.loads((exported.parent / "assets.json").read_text())
    assert listing["bucketParameter"] == "AssetBucketName"
    assert listing["defaultBucket"] == "test-template-assets"
    assert synthesized.product["Parameters"]["AssetBucketName"]["Default"] == "test-template-assets"

    referenced = set()
    for resource in synthesized.product["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::CodeCommit::Repository":
            assert properties["Code"]["S3"]["Bucket"] == {"Ref": "AssetBucketName"}
            referenced.add(properties["Code"]["S3"]["Key"])
        if resource["Type"] == "AWS::Lambda::Function":
            assert properties["Code"]["S3Bucket"] == {"Ref": "AssetBucketName"}
            referenced.add(properties["Code"]["S3Key"])
    assert len(referenced) == 3
    assert set(listing["assets"]) == referenced
    assert {path.name for path in (exported.parent / "assets").iterdir()} == referenced


def test_cleanup_function_ships_the_handler_source(synthesized):
    with zipfile.ZipFile(synthesized.result.dist / "seed" / "cleanup-handler.zip") as archive:
        assert archive.namelist() == ["cleanup_handler.py"]
        assert archive.read("cleanup_handler.py") == HANDLER_SOURCE.read_bytes()
    (function,) = of_type(synthesized.product, "AWS::Lambda::Function").values()
    assert function["Properties"]["Handler"] == "cleanup_handler.handler"
