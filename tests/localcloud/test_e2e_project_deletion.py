"""End to end on the local cloud: deleting a project that has a model in production cleans up.

The project here is its own (deleting the lifecycle tests' project would take it from under them),
made from the S3 project template that `make synth` exports (CreateProject with TemplateProviders),
where the lifecycle tests' project is made from the Service Catalog product; its model is the one the
ModelBuild run that creating the project started registers.
"""

from __future__ import annotations

import time

import pytest

from localcloud.tools.lifecycle import Lifecycle
from localcloud.tools.publish import publish_project_template


@pytest.fixture(scope="module")
def life(cloud):
    return Lifecycle(cloud.client)


def test_deleting_the_project_removes_endpoints_stacks_and_the_bucket(cloud, life, synth_result):
    template = publish_project_template(
        synth_result.project_template.parent, cloud.url, "e2e-templates", state=cloud.state.root
    )
    project = life.create_project_from_template("e2e-delete", template.url, template.parameters)
    life.wait_for_execution(project.modelbuild_pipeline, project.created, timeout=300)
    package = life.wait_for_package(project.group, project.created, timeout=30)["ModelPackageArn"]
    approved = time.time()
    life.approve_package(package)
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300, until_stage="ApproveDeployment")
    life.answer_approval(project.modeldeploy_pipeline, "ApproveDeployment")
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300)
    sagemaker, s3, cloudformation = cloud.client("sagemaker"), cloud.client("s3"), cloud.client("cloudformation")
    endpoints = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    assert {project.staging_endpoint, project.prod_endpoint} <= endpoints, "both stages are deployed"
    assert s3.list_object_versions(Bucket=project.bucket).get("Versions"), "the bucket holds the runs' objects"

    life.delete_project(project.name)

    endpoints = {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}
    assert not {project.staging_endpoint, project.prod_endpoint} & endpoints
    assert project.bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}, "emptied, then deleted"
    stacks = cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])
    assert not [s for s in stacks["StackSummaries"] if project.name in s["StackName"]]
    deleted = cloudformation.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert f"SageMaker-{project.name}-{project.project_id}" in {s["StackName"] for s in deleted}
