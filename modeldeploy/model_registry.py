"""Finds the model package to deploy: the newest Approved one in the project's group.

Pending and rejected packages are never deployed. When nothing is approved the
error says what the group holds and how to approve a package, because that is
the step a person has to take next.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

APPROVED = "Approved"


class NoApprovedModelPackage(RuntimeError):
    """The group exists but holds no Approved model package (or does not exist at all)."""


def latest_approved_model_package(sagemaker_client: Any, group_name: str) -> dict[str, Any]:
    """Return the ModelPackageSummary of the newest Approved package in group_name.

    Pages through the group newest first and stops at the first page holding an
    Approved one; the status is checked on every summary as well, so a backend
    that ignored the filter could still never pick a pending or rejected package.
    """
    paginator = sagemaker_client.get_paginator("list_model_packages")
    pages = paginator.paginate(
        ModelPackageGroupName=group_name,
        ModelApprovalStatus=APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
    )
    try:
        for page in pages:
            approved = [
                summary
                for summary in page.get("ModelPackageSummaryList", [])
                if summary.get("ModelApprovalStatus") == APPROVED
            ]
            if approved:
                return max(approved, key=_newest_first_key)
    except ClientError as error:
        raise NoApprovedModelPackage(_describe_client_error(group_name, error)) from error
    raise NoApprovedModelPackage(_explain_nothing_approved(sagemaker_client, group_name))


def _newest_first_key(summary: dict[str, Any]) -> tuple[Any, int]:
    """Creation time, then version number for packages registered within the same instant."""
    return summary["CreationTime"], summary.get("ModelPackageVersion", 0)


def _explain_nothing_approved(sagemaker_client: Any, group_name: str) -> str:
    try:
        sagemaker_client.describe_model_package_group(ModelPackageGroupName=group_name)
    except ClientError as error:
        return _describe_client_error(group_name, error)

    statuses: Counter[str] = Counter()
    newest_arn = newest_pending_arn = None
    paginator = sagemaker_client.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group_name, SortBy="CreationTime", SortOrder="Descending"):
        for summary in page.get("ModelPackageSummaryList", []):
            statuses[summary.get("ModelApprovalStatus", "unknown")] += 1
            newest_arn = newest_arn or summary["ModelPackageArn"]
            if summary.get("ModelApprovalStatus") == "PendingManualApproval":
                newest_pending_arn = newest_pending_arn or summary["ModelPackageArn"]

    if not statuses:
        return (
            f"No Approved model package in model package group {group_name!r}: the group is empty. "
            "Run the ModelBuild pipeline to register a model, then approve it."
        )
    found = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    return (
        f"No Approved model package in model package group {group_name!r} (found {found}). "
        "Approve one in SageMaker Studio (Models > Model registry > the version > Update status > Approved) "
        "or with: aws sagemaker update-model-package --model-approval-status Approved "
        f"--model-package-arn {newest_pending_arn or newest_arn}"
    )


def _describe_client_error(group_name: str, error: ClientError) -> str:
    message = error.response.get("Error", {}).get("Message", str(error))
    return (
        f"Cannot read model package group {group_name!r}: {message}. "
        "Check MODEL_PACKAGE_GROUP_NAME and that the build role may call sagemaker:ListModelPackages "
        "and sagemaker:DescribeModelPackageGroup."
    )
