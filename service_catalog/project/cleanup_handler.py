"""Custom resource: when a project is deleted, remove what its pipelines created.

CloudFormation cannot delete what it did not create: the endpoint stacks that
ModelDeploy deployed, the objects (all versions) in the artifact bucket, the
model packages registered in the group, and the SageMaker pipelines the ModelBuild
builds upserted (every pipeline tagged `sagemaker:project-id` with this project's
id). This handler does that on `Delete`, so the bucket and the group can then be
deleted. Create and Update do nothing.

Standard library and boto3 only: it runs on Lambda's Python runtime as is.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

SAFETY_MARGIN_SECONDS = 60
POLL_SECONDS = 10
DELETE_BATCH = 1000
PROJECT_ID_TAG = "sagemaker:project-id"


class CleanupError(RuntimeError):
    """Something the project owner must look at before deleting again."""


def handler(event, context):
    """Lambda entry point for the AWS::CloudFormation::CustomResource."""
    LOG.info("request %s for %s", event.get("RequestType"), event.get("LogicalResourceId"))
    properties = event.get("ResourceProperties", {})
    physical_id = event.get("PhysicalResourceId") or f"cleanup-{properties.get('BucketName', 'project')}"
    status, reason = "SUCCESS", "nothing to do"
    try:
        if event["RequestType"] == "Delete":
            deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
            reason = clean_up(properties, deadline)
    except Exception as error:  # report every failure to CloudFormation, never hang it
        LOG.exception("cleanup failed")
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    send_response(event, physical_id, status, reason)


def clean_up(properties: dict, deadline: float) -> str:
    stack_names = list(properties.get("StackNames", []))
    deploy_role_arn = properties["DeployRoleArn"]
    bucket = properties["BucketName"]
    group = properties["ModelPackageGroupName"]
    project_id = properties["ProjectId"]

    deleted_stacks = delete_stacks(boto3.client("cloudformation"), stack_names, deploy_role_arn, deadline)
    deleted_objects = empty_bucket(boto3.client("s3"), bucket)
    sagemaker = boto3.client("sagemaker")
    deleted_packages = delete_model_packages(sagemaker, group)
    deleted_pipelines = delete_project_pipelines(sagemaker, project_id)
    return (
        f"deleted stacks {deleted_stacks or 'none'}, {deleted_objects} object versions, "
        f"{deleted_packages} model packages, pipelines {deleted_pipelines or 'none'}"
    )


def _stack_status(cloudformation, name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def delete_stacks(cloudformation, names: list[str], role_arn: str, deadline: float) -> list[str]:
    """Delete the endpoint stacks (with the role that deployed them) and wait until gone."""
    pending = []
    for name in names:
        status = _stack_status(cloudformation, name)
        if status in (None, "DELETE_COMPLETE"):
            continue
        LOG.info("deleting stack %s (%s)", name, status)
        cloudformation.delete_stack(StackName=name, RoleARN=role_arn)
        pending.append(name)

    waiting = list(pending)
    while waiting:
        for name in list(waiting):
            status = _stack_status(cloudformation, name)
            if status in (None, "DELETE_COMPLETE"):
                waiting.remove(name)
            elif status == "DELETE_FAILED":
                raise CleanupError(
                    f"stack {name} could not be deleted (DELETE_FAILED): see its events, "
                    "fix the cause, then delete the project again"
                )
        if waiting and time.monotonic() > deadline:
            raise CleanupError(f"stacks {waiting} are still deleting; delete the project again later")
        if waiting:
            time.sleep(POLL_SECONDS)
    return pending


def empty_bucket(s3, bucket: str) -> int:
    """Delete every object version and delete marker, so the bucket itself can go."""
    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            keys = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(keys), DELETE_BATCH):
                batch = keys[start : start + DELETE_BATCH]
                answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                errors = answer.get("Errors", [])
                if errors:
                    first = errors[0]
                    raise CleanupError(
                        f"could not delete {len(errors)} objects from {bucket}, "
                        f"e.g. {first.get('Key')}: {first.get('Message')}"
                    )
                deleted += len(batch)
    except s3.exceptions.NoSuchBucket:
        return deleted
    return deleted


def delete_model_packages(sagemaker, group: str) -> int:
    """Delete the group's model packages (a group with versions cannot be deleted)."""
    arns = []
    try:
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelPackageType="Versioned"
        )
        for page in pages:
            arns.extend(summary["ModelPackageArn"] for summary in page.get("ModelPackageSummaryList", []))
    except sagemaker.exceptions.ClientError as error:
        if "does not exist" in str(error) or "ResourceNotFound" in str(error):
            return 0
        raise
    for package_arn in arns:
        sagemaker.delete_model_package(ModelPackageName=package_arn)
    return len(arns)


def delete_project_pipelines(sagemaker, project_id: str) -> list[str]:
    """Delete every SageMaker pipeline tagged with the project's id (their executions go with them).

    Pipelines are found by tag, not by name: a build may have been run with another
    --pipeline-name, and a pipeline of another project must never be touched.
    """
    if not project_id:
        raise CleanupError("ProjectId is empty: cannot tell this project's pipelines from others'")
    deleted = []
    for page in sagemaker.get_paginator("list_pipelines").paginate():
        for summary in page.get("PipelineSummaries", []):
            tag_pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=summary["PipelineArn"])
            tags = [tag for tag_page in tag_pages for tag in tag_page.get("Tags", [])]
            if {"Key": PROJECT_ID_TAG, "Value": project_id} in tags:
                LOG.info("deleting pipeline %s", summary["PipelineName"])
                sagemaker.delete_pipeline(PipelineName=summary["PipelineName"])
                deleted.append(summary["PipelineName"])
    return deleted


def send_response(event: dict, physical_id: str, status: str, reason: str) -> None:
    """PUT the result to the pre-signed URL CloudFormation waits on."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {},
        }
    ).encode("utf-8")
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        LOG.info("CloudFormation answered %s", response.status)
