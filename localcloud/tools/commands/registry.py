"""``localcloud packages``: list model packages of a group, approve or reject one."""

from __future__ import annotations

from localcloud.tools.commands import client, table


def list_packages(args) -> int:
    sagemaker = client("sagemaker")
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=args.group, SortBy="CreationTime", SortOrder="Descending"
    )
    rows = []
    for page in pages:
        for package in page["ModelPackageSummaryList"]:
            described = sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
            metadata = described.get("CustomerMetadataProperties", {})
            rows.append(
                [
                    package.get("ModelPackageVersion", "-"),
                    package["ModelApprovalStatus"],
                    package["CreationTime"].strftime("%Y-%m-%d %H:%M:%S"),
                    metadata.get("AccuracyThreshold", "-"),
                    package["ModelPackageArn"],
                ]
            )
    if not rows:
        print(f"no model packages in group {args.group}")
        return 0
    print(table(rows, ["version", "status", "created", "threshold", "arn"]))
    return 0


def set_status(status: str):
    def run(args) -> int:
        sagemaker = client("sagemaker")
        arn = args.package
        if arn.isdigit() or arn == "latest":
            arn = _resolve(sagemaker, args.group, arn)
        sagemaker.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus=status,
            ApprovalDescription=args.description or f"{status} from the localcloud CLI",
        )
        print(f"{arn}: {status}")
        return 0

    return run


def _resolve(sagemaker, group: str | None, version: str) -> str:
    if not group:
        raise RuntimeError("give --group with a version number or 'latest', or pass the package ARN")
    packages = sagemaker.list_model_packages(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
    )["ModelPackageSummaryList"]
    for package in packages:
        if version == "latest" or str(package.get("ModelPackageVersion")) == version:
            return package["ModelPackageArn"]
    raise RuntimeError(f"no model package {version} in group {group}")


def add_parser(commands) -> None:
    packages = commands.add_parser("packages", help="model packages in the registry")
    sub = packages.add_subparsers(dest="packages_command", required=True)
    listing = sub.add_parser("list", help="list a group's packages, newest first")
    listing.add_argument("group", help="model package group name (<project-name>-<project-id>)")
    listing.set_defaults(run=list_packages)
    for name, status in (("approve", "Approved"), ("reject", "Rejected")):
        command = sub.add_parser(name, help=f"mark a package {status}")
        command.add_argument("package", help="package ARN, or a version number / 'latest' with --group")
        command.add_argument("--group", help="model package group, when giving a version")
        command.add_argument("--description", default=None)
        command.set_defaults(run=set_status(status))
