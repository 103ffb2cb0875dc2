"""CodeBuild projects: image, buildspecs and the environment variables of the contract."""

from __future__ import annotations

from aws_cdk.assertions import Template

from tests.service_catalog.conftest import PROJECT
from tests.service_catalog.template_tools import of_type, render

PREFIX = "sagemaker-churn-model-p-abc123def456"


def projects(product: dict) -> dict[str, dict]:
    rendered = render(product, PROJECT)
    return {r["Properties"]["Name"]: r["Properties"] for r in of_type(rendered, "AWS::CodeBuild::Project").values()}


def environment(project: dict) -> dict[str, object]:
    return {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}


def test_three_builds_on_the_standard_7_image(product):
    template = Template.from_json(product)
    template.resource_count_is("AWS::CodeBuild::Project", 3)
    template.all_resources_properties(
        "AWS::CodeBuild::Project",
        {
            "Environment": {
                "Image": "aws/codebuild/standard:7.0",
                "PrivilegedMode": False,
                "Type": "LINUX_CONTAINER",
            }
        },
    )
    assert sorted(projects(product)) == [
        f"{PREFIX}-modelbuild",
        f"{PREFIX}-modeldeploy",
        f"{PREFIX}-modeldeploy-test",
    ]


def test_modelbuild_environment(product):
    build = projects(product)[f"{PREFIX}-modelbuild"]
    assert build["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": "codebuild-buildspec.yml"}
    env = environment(build)
    assert sorted(env) == sorted(
        [
            "SAGEMAKER_PROJECT_NAME",
            "SAGEMAKER_PROJECT_ID",
            "SAGEMAKER_PIPELINE_NAME",
            "SAGEMAKER_PIPELINE_ROLE_ARN",
            "ARTIFACT_BUCKET",
            "AWS_REGION",
            "MODEL_PACKAGE_GROUP_NAME",
        ]
    )
    assert env["SAGEMAKER_PROJECT_NAME"] == "churn-model"
    assert env["SAGEMAKER_PROJECT_ID"] == "p-abc123def456"
    assert env["SAGEMAKER_PIPELINE_NAME"] == "sagemaker-churn-model"
    assert env["ARTIFACT_BUCKET"] == "sagemaker-project-p-abc123def456"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["MODEL_PACKAGE_GROUP_NAME"] == "churn-model-p-abc123def456"
    assert env["SAGEMAKER_PIPELINE_ROLE_ARN"]["Fn::GetAtt"][0].startswith("SageMakerRolesPipelineExecution")


def test_modeldeploy_build_environment(product):
    build = projects(product)[f"{PREFIX}-modeldeploy"]
    assert build["Source"]["BuildSpec"] == "buildspec.yml"
    env = environment(build)
    assert sorted(env) == sorted(
        [
            "SAGEMAKER_PROJECT_NAME",
            "SAGEMAKER_PROJECT_ID",
            "ARTIFACT_BUCKET",
            "MODEL_EXECUTION_ROLE_ARN",
            "MODEL_PACKAGE_GROUP_NAME",
            "AWS_REGION",
            "EXPORT_TEMPLATE_NAME",
            "EXPORT_TEMPLATE_STAGING_CONFIG",
            "EXPORT_TEMPLATE_PROD_CONFIG",
        ]
    )
    assert env["EXPORT_TEMPLATE_NAME"] == "template-export.yml"
    assert env["EXPORT_TEMPLATE_STAGING_CONFIG"] == "staging-config-export.json"
    assert env["EXPORT_TEMPLATE_PROD_CONFIG"] == "prod-config-export.json"
    assert env["MODEL_EXECUTION_ROLE_ARN"]["Fn::GetAtt"][0].startswith("SageMakerRolesModelExecution")


def test_staging_test_environment(product):
    build = projects(product)[f"{PREFIX}-modeldeploy-test"]
    assert build["Source"]["BuildSpec"] == "test/buildspec.yml"
    assert environment(build) == {"AWS_REGION": "us-east-1", "BUILD_CONFIG": "staging-config-export.json"}


def test_builds_log_to_their_own_group_with_retention(product):
    rendered = render(product, PROJECT)
    groups = {lid: r["Properties"] for lid, r in of_type(rendered, "AWS::Logs::LogGroup").items()}
    assert all(group["RetentionInDays"] > 0 for group in groups.values())
    for name, build in projects(product).items():
        logs = build["LogsConfig"]["CloudWatchLogs"]
        assert logs["Status"] == "ENABLED"
        assert groups[logs["GroupName"]["Ref"]]["LogGroupName"] == f"/aws/codebuild/{name}"
