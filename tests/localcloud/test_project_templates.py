"""SageMaker projects from S3 templates (TemplateProviders), and UpdateProject on both routes."""

from __future__ import annotations

import copy
import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from localcloud.tools.lifecycle import Lifecycle, LifecycleError

BUCKET = "project-templates"
ROLE = "arn:aws:iam::123456789012:role/codebuild-role"


def template(stage: str, extra: dict | None = None) -> dict:
    """A small project: its bucket, a seeded repository and a CodeBuild project whose STAGE is ``stage``."""
    resources = {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Sub": "sagemaker-project-${SageMakerProjectId}"}},
        },
        "Repo": {
            "Type": "AWS::CodeCommit::Repository",
            "Properties": {
                "RepositoryName": {"Fn::Sub": "sagemaker-${SageMakerProjectName}-modelbuild"},
                "Code": {"BranchName": "main", "S3": {"Bucket": BUCKET, "Key": {"Ref": "SeedKey"}}},
            },
        },
        "Build": {
            "Type": "AWS::CodeBuild::Project",
            "Properties": {
                "Name": {"Fn::Sub": "sagemaker-${SageMakerProjectId}-build"},
                "ServiceRole": ROLE,
                "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2\nphases: {build: {commands: [echo hi]}}"},
                "Artifacts": {"Type": "NO_ARTIFACTS"},
                "Environment": {
                    "Type": "LINUX_CONTAINER",
                    "ComputeType": "BUILD_GENERAL1_SMALL",
                    "Image": "aws/codebuild/standard:7.0",
                    "EnvironmentVariables": [
                        {"Name": "STAGE", "Value": stage},
                        {"Name": "TEAM", "Value": {"Ref": "Team"}},
                    ],
                },
            },
        },
        **(extra or {}),
    }
    return {
        "Parameters": {
            "SageMakerProjectName": {"Type": "String"},
            "SageMakerProjectId": {"Type": "String"},
            "SeedKey": {"Type": "String", "Default": "seed-v1.zip"},
            "Team": {"Type": "String"},
        },
        "Resources": resources,
        "Outputs": {"BucketName": {"Value": {"Ref": "Bucket"}}},
    }


def url(key: str) -> str:
    return f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{key}"


def provider(key: str, **parameters: str) -> list[dict]:
    return [
        {
            "CfnTemplateProvider": {
                "TemplateName": "mlops",
                "TemplateURL": url(key),
                "Parameters": [{"Key": k, "Value": v} for k, v in parameters.items()],
            }
        }
    ]


def wait_status(sagemaker, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sagemaker.describe_project(ProjectName=name)
        if not described["ProjectStatus"].endswith("InProgress") and described["ProjectStatus"] != "Pending":
            return described
        assert time.monotonic() < deadline, f"project {name} still {described['ProjectStatus']}"
        time.sleep(0.1)


def wait_gone(sagemaker, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(p["ProjectName"] == name for p in sagemaker.list_projects()["ProjectSummaryList"]):
        assert time.monotonic() < deadline, f"project {name} still there"
        time.sleep(0.1)


def stage_of(codebuild, project_id: str) -> dict[str, str]:
    [project] = codebuild.batch_get_projects(names=[f"sagemaker-{project_id}-build"])["projects"]
    return {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}


@pytest.fixture(scope="module")
def uploaded(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for version in ("v1", "v2"):
        seed = io.BytesIO()
        with zipfile.ZipFile(seed, "w") as archive:
            archive.writestr("README.md", f"seed {version}\n")
        s3.put_object(Bucket=BUCKET, Key=f"seed-{version}.zip", Body=seed.getvalue())
    s3.put_object(Bucket=BUCKET, Key="mlops/v1/template.json", Body=json.dumps(template("v1")))
    v2 = template("v2")
    v2["Parameters"]["SeedKey"]["Default"] = "seed-v2.zip"  # a republish with a new seed archive
    s3.put_object(Bucket=BUCKET, Key="mlops/v2/template.json", Body=json.dumps(v2))
    broken = template("v3", {"Missing": copy.deepcopy(template("x")["Resources"]["Repo"])})
    broken["Resources"]["Missing"]["Properties"]["RepositoryName"] = "sagemaker-broken-extra"
    broken["Resources"]["Missing"]["Properties"]["Code"]["S3"]["Key"] = "no-such-seed.zip"
    s3.put_object(Bucket=BUCKET, Key="mlops/v3/template.json", Body=json.dumps(broken))
    return s3


def test_bad_template_providers_are_refused_up_front_leaving_nothing(aws, uploaded):
    sagemaker, cloudformation = aws("sagemaker"), aws("cloudformation")
    stacks_before = {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    cases = [
        (provider("mlops/none/template.json", Team="a"), "Cannot read the template of 'mlops'"),
        (
            provider("mlops/v1/template.json", Team="a", Colour="red"),
            "declares no parameter Colour; it declares: SeedKey, Team",
        ),
        (provider("mlops/v1/template.json"), "needs a value for Team (no default)"),
        (provider("mlops/v1/template.json", Team="a", SageMakerProjectId="p-x"), "set by SageMaker"),
        (
            [{"CfnTemplateProvider": {"TemplateName": "-bad", "TemplateURL": url("mlops/v1/template.json")}}],
            "TemplateName",
        ),
        ([{"CfnTemplateProvider": {"TemplateName": "mlops", "TemplateURL": "s3://project-templates/x"}}], "https URL"),
    ]
    for providers, message in cases:
        with pytest.raises(ClientError) as refused:
            sagemaker.create_project(ProjectName="refused", TemplateProviders=providers)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert message in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="not both"):
        sagemaker.create_project(
            ProjectName="refused",
            TemplateProviders=provider("mlops/v1/template.json", Team="a"),
            ServiceCatalogProvisioningDetails={"ProductId": "prod-x"},
        )
    assert sagemaker.list_projects()["ProjectSummaryList"] == []
    assert {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]} == stacks_before


def test_s3_template_project_is_created_updated_in_place_rolled_back_and_deleted(aws, cloud, uploaded):
    sagemaker, cloudformation, codebuild = aws("sagemaker"), aws("cloudformation"), aws("codebuild")
    created = sagemaker.create_project(
        ProjectName="s3-template", TemplateProviders=provider("mlops/v1/template.json", Team="fraud")
    )
    described = wait_status(sagemaker, "s3-template")
    assert described["ProjectStatus"] == "CreateCompleted", described
    [detail] = described["TemplateProviderDetails"]
    stack = detail["CfnTemplateProviderDetail"]["StackDetail"]
    assert (
        stack["StatusMessage"] == "CREATE_COMPLETE" and stack["Name"] == f"SageMaker-s3-template-{created['ProjectId']}"
    )
    [made] = cloudformation.describe_stacks(StackName=stack["Name"])["Stacks"]
    assert made["StackId"] == stack["Id"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in made["Parameters"]}
    assert (
        parameters["SageMakerProjectName"] == "s3-template" and parameters["SageMakerProjectId"] == created["ProjectId"]
    )
    assert {"Key": "sagemaker:project-id", "Value": created["ProjectId"]} in made["Tags"]
    assert stage_of(codebuild, created["ProjectId"]) == {"STAGE": "v1", "TEAM": "fraud"}

    # the platform team republishes: a changed environment variable and a new seed archive
    sagemaker.update_project(ProjectName="s3-template", TemplateProvidersToUpdate=provider("mlops/v2/template.json"))
    assert sagemaker.describe_project(ProjectName="s3-template")["ProjectStatus"] == "UpdateInProgress"
    described = wait_status(sagemaker, "s3-template")
    assert described["ProjectStatus"] == "UpdateCompleted", described
    assert described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]["TemplateURL"] == url(
        "mlops/v2/template.json"
    )
    assert stage_of(codebuild, created["ProjectId"]) == {"STAGE": "v2", "TEAM": "fraud"}, "kept Team, changed STAGE"
    repository = aws("codecommit").get_repository(repositoryName="sagemaker-s3-template-modelbuild")
    assert repository["repositoryMetadata"]["repositoryId"], "the repository stays (its seed is read only once)"

    # a republish that fails (through the lifecycle the CLI's `projects update` uses): the stack rolls back
    with pytest.raises(LifecycleError, match="failed to update .*no-such-seed.zip"):
        Lifecycle(cloud.client).update_project("s3-template", template_url=url("mlops/v3/template.json"))
    described = wait_status(sagemaker, "s3-template")
    assert described["ProjectStatus"] == "UpdateFailed", described
    detail = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
    assert detail["TemplateURL"] == url("mlops/v2/template.json")
    assert "no-such-seed.zip" in detail["StackDetail"]["StatusMessage"]
    assert detail["StackDetail"]["StatusMessage"].startswith("UPDATE_ROLLBACK_COMPLETE")
    assert (
        cloudformation.describe_stacks(StackName=stack["Name"])["Stacks"][0]["StackStatus"]
        == "UPDATE_ROLLBACK_COMPLETE"
    )
    assert stage_of(codebuild, created["ProjectId"]) == {"STAGE": "v2", "TEAM": "fraud"}

    with pytest.raises(ClientError, match="TemplateName identifies it"):
        sagemaker.update_project(
            ProjectName="s3-template",
            TemplateProvidersToUpdate=[
                {"CfnTemplateProvider": {"TemplateName": "other", "TemplateURL": url("mlops/v2/template.json")}}
            ],
        )
    sagemaker.delete_project(ProjectName="s3-template")
    wait_gone(sagemaker, "s3-template")
    assert stack["Name"] not in {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]}
    assert codebuild.batch_get_projects(names=[f"sagemaker-{created['ProjectId']}-build"])["projects"] == []


def test_service_catalog_project_moves_to_a_new_provisioning_artifact(aws, cloud, uploaded):
    sagemaker, servicecatalog, codebuild = aws("sagemaker"), aws("servicecatalog"), aws("codebuild")
    product = servicecatalog.create_product(
        Name="templates-product",
        Owner="platform",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        IdempotencyToken="templates-product",
        ProvisioningArtifactParameters={"Name": "v1", "Info": {"LoadTemplateFromURL": url("mlops/v1/template.json")}},
    )
    product_id = product["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    created = sagemaker.create_project(
        ProjectName="sc-template",
        ServiceCatalogProvisioningDetails={
            "ProductId": product_id,
            "ProvisioningParameters": [{"Key": "Team", "Value": "risk"}],
        },
    )
    assert wait_status(sagemaker, "sc-template")["ProjectStatus"] == "CreateCompleted"
    v2 = servicecatalog.create_provisioning_artifact(
        ProductId=product_id,
        Parameters={"Name": "v2", "Info": {"LoadTemplateFromURL": url("mlops/v2/template.json")}},
        IdempotencyToken="v2",
    )["ProvisioningArtifactDetail"]["Id"]
    described = Lifecycle(cloud.client).update_project("sc-template")  # to the product's newest artifact
    assert described["ProjectStatus"] == "UpdateCompleted", described
    assert described["ServiceCatalogProvisioningDetails"]["ProvisioningArtifactId"] == v2
    assert stage_of(codebuild, created["ProjectId"]) == {"STAGE": "v2", "TEAM": "risk"}
    with pytest.raises(ClientError, match="pa-nope"):
        sagemaker.update_project(
            ProjectName="sc-template", ServiceCatalogProvisioningUpdateDetails={"ProvisioningArtifactId": "pa-nope"}
        )
    sagemaker.delete_project(ProjectName="sc-template")
    wait_gone(sagemaker, "sc-template")


def test_republishing_a_product_stack_adds_a_version_to_the_same_product(aws, uploaded):
    cloudformation, servicecatalog = aws("cloudformation"), aws("servicecatalog")

    def portfolio(version: str) -> str:
        artifact = {"Name": version, "Info": {"LoadTemplateFromURL": url(f"mlops/{version}/template.json")}}
        product = {"Name": "republished", "Owner": "platform", "ProvisioningArtifactParameters": [artifact]}
        return json.dumps(
            {"Resources": {"Product": {"Type": "AWS::ServiceCatalog::CloudFormationProduct", "Properties": product}}}
        )

    cloudformation.create_stack(StackName="republished-portfolio", TemplateBody=portfolio("v1"))
    wait_stack(cloudformation, "republished-portfolio", "CREATE_COMPLETE")
    product_id = cloudformation.describe_stack_resource(StackName="republished-portfolio", LogicalResourceId="Product")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    cloudformation.update_stack(StackName="republished-portfolio", TemplateBody=portfolio("v2"))
    wait_stack(cloudformation, "republished-portfolio", "UPDATE_COMPLETE")
    again = cloudformation.describe_stack_resource(StackName="republished-portfolio", LogicalResourceId="Product")
    assert again["StackResourceDetail"]["PhysicalResourceId"] == product_id, "the same product, not a new one"
    artifacts = servicecatalog.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
    assert [a["Name"] for a in sorted(artifacts, key=lambda a: a["CreatedTime"])] == ["v1", "v2"]
    cloudformation.delete_stack(StackName="republished-portfolio")


def wait_stack(cloudformation, name: str, wanted: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (status := cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]) != wanted:
        assert status.endswith("IN_PROGRESS") and time.monotonic() < deadline, status
        time.sleep(0.1)
