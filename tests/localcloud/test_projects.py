"""Publishing the template, Service Catalog provisioning and SageMaker projects on the local cloud."""

from __future__ import annotations

import io
import json
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.tools import publish
from localcloud.tools.lifecycle import Lifecycle

REPO_ROOT = Path(__file__).resolve().parents[2]

SMALL_TEMPLATE = {
    "Parameters": {
        "SageMakerProjectName": {"Type": "String"},
        "SageMakerProjectId": {"Type": "String"},
        "SeedKey": {"Type": "String", "Default": "seed.zip"},
    },
    "Resources": {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Sub": "sagemaker-project-${SageMakerProjectId}"}},
        },
        "Repo": {
            "Type": "AWS::CodeCommit::Repository",
            "Properties": {
                "RepositoryName": {"Fn::Sub": "sagemaker-${SageMakerProjectName}-modelbuild"},
                "Code": {"BranchName": "main", "S3": {"Bucket": "small-product", "Key": {"Ref": "SeedKey"}}},
            },
        },
    },
    "Outputs": {"BucketName": {"Value": {"Ref": "Bucket"}}},
}


def wait_project(sagemaker, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sagemaker.describe_project(ProjectName=name)
        if described["ProjectStatus"] not in ("Pending", "CreateInProgress"):
            return described
        assert time.monotonic() < deadline, f"project {name} still {described['ProjectStatus']}"
        time.sleep(0.1)


def wait_gone(sagemaker, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = sagemaker.describe_project(ProjectName=name)["ProjectStatus"]
        except ClientError as error:
            assert "does not exist" in error.response["Error"]["Message"]
            return
        assert status == "DeleteInProgress", f"project {name} is {status}"
        assert time.monotonic() < deadline, f"project {name} still being deleted"
        time.sleep(0.1)


def stack_names(cloudformation) -> set[str]:
    return {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}


@pytest.fixture(scope="module")
def small_product(cloud):
    """A two-resource product, published the way any Service Catalog product is."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=cloud.url, region_name="us-east-1")
    s3.create_bucket(Bucket="small-product")
    seed = io.BytesIO()
    with zipfile.ZipFile(seed, "w") as archive:
        archive.writestr("buildspec.yml", "version: 0.2\n")
    s3.put_object(Bucket="small-product", Key="seed.zip", Body=seed.getvalue())
    s3.put_object(Bucket="small-product", Key="template.json", Body=json.dumps(SMALL_TEMPLATE))
    servicecatalog = boto3.client("servicecatalog", endpoint_url=cloud.url, region_name="us-east-1")
    created = servicecatalog.create_product(
        Name="small",
        Owner="tests",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        IdempotencyToken="small",
        ProvisioningArtifactParameters={
            "Name": "v1",
            "Type": "CLOUD_FORMATION_TEMPLATE",
            "Info": {"LoadTemplateFromURL": "https://s3.us-east-1.amazonaws.com/small-product/template.json"},
        },
    )
    return created["ProductViewDetail"]["ProductViewSummary"]["ProductId"], created["ProvisioningArtifactDetail"]["Id"]


def test_publish_uploads_assets_and_creates_one_portfolio_and_product_even_twice(aws, cloud, cdk_out):
    first = publish.publish(cdk_out, cloud.url, state=cloud.state.root)
    second = publish.publish(cdk_out, cloud.url, state=cloud.state.root)
    assert first.products == second.products and len(first.products) == 1
    assert second.stacks == {"SageMakerMLOpsPortfolio": "UPDATE_COMPLETE (no changes)"}
    servicecatalog = aws("servicecatalog")
    assert len(servicecatalog.list_portfolios()["PortfolioDetails"]) == 1
    [product] = [p for p in servicecatalog.search_products()["ProductViewSummaries"]]
    assert product["ProductId"] == first.products[0]["ProductId"]
    described = servicecatalog.describe_product(Id=product["ProductId"])
    [artifact] = described["ProvisioningArtifacts"]
    assert artifact["Name"] == "v1.0"
    assert described["LaunchPaths"][0]["Name"] == "SageMaker MLOps templates"
    url = servicecatalog.describe_provisioning_artifact(
        ProductId=product["ProductId"], ProvisioningArtifactId=artifact["Id"]
    )["Info"]["TemplateUrl"]
    bucket, key = url.split("amazonaws.com/", 1)[1].split("/", 1)
    template = json.loads(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert "SageMakerProjectName" in template["Parameters"]
    assets = json.loads((cdk_out / "SageMakerMLOpsPortfolio.assets.json").read_text())["files"]
    keys = {o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {next(iter(a["destinations"].values()))["objectKey"] for a in assets.values()}


def test_create_project_validation_errors_leave_nothing_behind(aws, small_product):
    sagemaker, cloudformation = aws("sagemaker"), aws("cloudformation")
    product_id, artifact_id = small_product
    stacks_before = stack_names(cloudformation)
    details = {"ProductId": product_id, "ProvisioningArtifactId": artifact_id}
    cases = [
        ("-starts-with-dash", details, "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$"),
        ("x" * 33, details, "regular expression pattern"),
        ("unknown-product", {"ProductId": "prod-doesnotexist"}, "prod-doesnotexist"),
        ("unknown-artifact", {"ProductId": product_id, "ProvisioningArtifactId": "pa-nope"}, "pa-nope"),
    ]
    for name, provisioning, message in cases:
        with pytest.raises(ClientError) as refused:
            sagemaker.create_project(ProjectName=name, ServiceCatalogProvisioningDetails=provisioning)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert message in refused.value.response["Error"]["Message"]
    assert sagemaker.list_projects()["ProjectSummaryList"] == []
    assert aws("servicecatalog").search_provisioned_products()["ProvisionedProducts"] == []
    assert stack_names(cloudformation) == stacks_before


def test_project_lifecycle_provisions_the_product_and_delete_removes_its_stack(aws, cloud, small_product, tmp_path):
    sagemaker, cloudformation, codecommit = aws("sagemaker"), aws("cloudformation"), aws("codecommit")
    product_id, artifact_id = small_product
    created = sagemaker.create_project(
        ProjectName="churn",
        ProjectDescription="churn model",
        ServiceCatalogProvisioningDetails={"ProductId": product_id, "ProvisioningArtifactId": artifact_id},
        Tags=[{"Key": "team", "Value": "data"}],
    )
    project_id = created["ProjectId"]
    assert len(project_id) == 14 and project_id.startswith("p-") and project_id[2:].isalnum()
    assert project_id[2:] == project_id[2:].lower()

    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_project(ProjectName="churn", ServiceCatalogProvisioningDetails={"ProductId": product_id})
    assert "Project churn already exists" in duplicate.value.response["Error"]["Message"]

    described = wait_project(sagemaker, "churn")
    assert described["ProjectStatus"] == "CreateCompleted", described
    assert described["ProjectArn"] == created["ProjectArn"]
    pp_id = described["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    stack = cloudformation.describe_stacks(StackName=f"SC-123456789012-{pp_id}")["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["SageMakerProjectName"] == "churn" and parameters["SageMakerProjectId"] == project_id
    assert {"Key": "sagemaker:project-id", "Value": project_id} in stack["Tags"]
    aws("s3").head_bucket(Bucket=f"sagemaker-project-{project_id}")
    url = codecommit.get_repository(repositoryName="sagemaker-churn-modelbuild")["repositoryMetadata"]["cloneUrlHttp"]
    subprocess.run(["git", "clone", "--quiet", url, str(tmp_path / "clone")], check=True, capture_output=True)
    assert (tmp_path / "clone" / "buildspec.yml").read_text() == "version: 0.2\n"
    summaries = sagemaker.list_projects()["ProjectSummaryList"]
    assert [(s["ProjectName"], s["ProjectStatus"]) for s in summaries] == [("churn", "CreateCompleted")]

    sagemaker.delete_project(ProjectName="churn")
    wait_gone(sagemaker, "churn")
    assert f"SC-123456789012-{pp_id}" not in stack_names(cloudformation)
    names = [r["repositoryName"] for r in codecommit.list_repositories()["repositories"]]
    assert "sagemaker-churn-modelbuild" not in names
    assert sagemaker.list_projects()["ProjectSummaryList"] == []


def test_a_failing_stack_fails_the_project_with_its_reason_and_rolls_back(aws, small_product):
    sagemaker, cloudformation = aws("sagemaker"), aws("cloudformation")
    product_id, artifact_id = small_product
    stacks_before = stack_names(cloudformation)
    sagemaker.create_project(
        ProjectName="broken",
        ServiceCatalogProvisioningDetails={
            "ProductId": product_id,
            "ProvisioningArtifactId": artifact_id,
            "ProvisioningParameters": [{"Key": "SeedKey", "Value": "missing-seed.zip"}],
        },
    )
    described = wait_project(sagemaker, "broken")
    assert described["ProjectStatus"] == "CreateFailed"
    reason = described["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductStatusMessage"]
    assert "missing-seed.zip" in reason
    assert stack_names(cloudformation) == stacks_before
    sagemaker.delete_project(ProjectName="broken")
    wait_gone(sagemaker, "broken")


def test_full_product_project_has_seeded_repositories_and_deletes_cleanly(aws, cloud, tmp_path, cdk_out):
    sagemaker, cloudformation, codecommit = aws("sagemaker"), aws("cloudformation"), aws("codecommit")
    published = publish.publish(cdk_out, cloud.url, state=cloud.state.root)
    product = published.products[0]
    sagemaker.create_project(
        ProjectName="mlops-e2e",
        ServiceCatalogProvisioningDetails={
            "ProductId": product["ProductId"],
            "ProvisioningArtifactId": product["ProvisioningArtifactIds"][0],
        },
    )
    described = wait_project(sagemaker, "mlops-e2e", timeout=300)
    assert described["ProjectStatus"] == "CreateCompleted", described
    for kind in ("modelbuild", "modeldeploy"):
        url = codecommit.get_repository(repositoryName=f"sagemaker-mlops-e2e-{kind}")["repositoryMetadata"][
            "cloneUrlHttp"
        ]
        clone = tmp_path / kind
        subprocess.run(["git", "clone", "--quiet", url, str(clone)], check=True, capture_output=True)
        seeded = {p.relative_to(clone).as_posix() for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts}
        source = REPO_ROOT / kind
        assert "buildspec.yml" in seeded or "codebuild-buildspec.yml" in seeded
        assert all((source / path).is_file() for path in seeded), "seeded files come from the seed folder"
    project_id = described["ProjectId"]
    pipelines = {p["name"] for p in aws("codepipeline").list_pipelines()["pipelines"]}
    assert {
        f"sagemaker-mlops-e2e-{project_id}-modelbuild",
        f"sagemaker-mlops-e2e-{project_id}-modeldeploy",
    } <= pipelines
    aws("sagemaker").describe_model_package_group(ModelPackageGroupName=f"mlops-e2e-{project_id}")
    # creating the pipelines started each once; the project is deleted once those runs have ended (a
    # SageMaker pipeline execution still writing to the bucket would keep it from being deleted)
    life = Lifecycle(cloud.client)
    for kind, ends in (("modelbuild", "Succeeded"), ("modeldeploy", "Failed")):
        pipeline = f"sagemaker-mlops-e2e-{project_id}-{kind}"
        run = life.wait_for_run_end(pipeline, life.creation_run(pipeline)["pipelineExecutionId"], timeout=300)
        assert (run["trigger"]["triggerType"], run["status"]) == ("CreatePipeline", ends), run
    [package] = sagemaker.list_model_packages(ModelPackageGroupName=f"mlops-e2e-{project_id}")[
        "ModelPackageSummaryList"
    ]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    pp_id = described["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"]
    sagemaker.delete_project(ProjectName="mlops-e2e")
    wait_gone(sagemaker, "mlops-e2e", timeout=300)
    assert f"SC-123456789012-{pp_id}" not in stack_names(cloudformation)
    repositories = {r["repositoryName"] for r in codecommit.list_repositories()["repositories"]}
    assert not {"sagemaker-mlops-e2e-modelbuild", "sagemaker-mlops-e2e-modeldeploy"} & repositories
