"""Per-project IAM roles and the policy statements they are built from.

Roles are plain `AWS::IAM::Role` resources with inline policies written out
action by action: no wildcard actions, and resources narrowed to the project's
own names wherever the service allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from service_catalog.nag import acknowledge_wildcard_resource, flatten_reference
from service_catalog.project.parameters import NAMES, arn

ROLE_PATH = "/sagemaker-project/"


@dataclass(frozen=True)
class Allow:
    """An Allow statement; `why` explains any wildcard in its resources."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict | None = None
    why: str | None = None

    def render(self) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.condition:
            statement["Condition"] = self.condition
        return statement


Statement = Allow


def allow(
    actions: list[str], resources: list[str] | str, condition: dict | None = None, *, why: str | None = None
) -> Allow:
    """One Allow statement. Actions are spelled out (no `*`); a wildcard resource needs `why`."""
    for action in actions:
        if "*" in action:
            raise ValueError(f"wildcard action {action!r}: list the actions the role needs")
    return Allow(
        actions=tuple(sorted(set(actions))),
        resources=tuple(resources if isinstance(resources, list) else [resources]),
        condition=condition,
        why=why,
    )


def document(statements: list[Allow | dict]) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [s.render() if isinstance(s, Allow) else s for s in statements],
    }


def acknowledge_wildcards(construct: Construct, statements: list[Allow]) -> None:
    """Turn each statement's `why` into the cdk-nag acknowledgement of its wildcard resources.

    A wildcard without a `why` is a programming error: it is refused here, before
    cdk-nag would report it.
    """
    stack = cdk.Stack.of(construct)
    for statement in statements:
        for resource in statement.resources:
            flat = flatten_reference(stack.resolve(resource))
            if "*" not in flat:
                continue
            if not statement.why:
                raise ValueError(
                    f"resource {flat} of {list(statement.actions)} has a wildcard: pass why=... "
                    "saying why nothing narrower exists"
                )
            acknowledge_wildcard_resource(construct, resource, statement.why)


class ProjectRole(Construct):
    """A role that one AWS service assumes on behalf of this project."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        description: str,
        statements: list[Statement],
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.CfnRole(
            self,
            "Role",
            path=ROLE_PATH,
            description=description,
            assume_role_policy_document=document(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "sts:AssumeRole",
                    }
                ]
            ),
            policies=[iam.CfnRole.PolicyProperty(policy_name="project-access", policy_document=document(statements))],
        )
        self.arn = self.role.attr_arn
        acknowledge_wildcards(self.role, statements)

    def add_policy(
        self, construct_id: str, statements: list[Statement], condition: cdk.CfnCondition | None = None
    ) -> iam.CfnPolicy:
        """A separate policy: for statements naming the role itself, or that only exist
        when `condition` holds (e.g. one source provider)."""
        policy = iam.CfnPolicy(
            self,
            construct_id,
            policy_name=construct_id,
            roles=[self.role.ref],
            policy_document=document(statements),
        )
        if condition is not None:
            policy.cfn_options.condition = condition
        acknowledge_wildcards(policy, statements)
        return policy


# --- statements shared by several roles -------------------------------------------------


OBJECTS_WHY = (
    "Objects of this project's own artifact bucket: CodePipeline and SageMaker generate the "
    "object keys, so only the bucket can be named."
)
STREAMS_WHY = "Log streams get generated names; limited to one log group of this project."
MODEL_PACKAGES_WHY = (
    "Model package versions get generated ARNs (<group>/<version>); limited to this project's model package group."
)
LIST_MODEL_PACKAGES_WHY = "sagemaker:ListModelPackages does not support resource-level permissions."


def artifact_read(bucket_arn: str, objects_arn: str) -> list[Statement]:
    return [
        allow(["s3:GetBucketLocation", "s3:ListBucket"], bucket_arn),
        allow(["s3:GetObject", "s3:GetObjectVersion"], objects_arn, why=OBJECTS_WHY),
    ]


def artifact_read_write(bucket_arn: str, objects_arn: str) -> list[Statement]:
    return [
        allow(["s3:GetBucketLocation", "s3:ListBucket"], bucket_arn),
        allow(
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"],
            objects_arn,
            why=OBJECTS_WHY,
        ),
    ]


def key_use(key_arn: str) -> Statement:
    return allow(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"], key_arn)


def log_group_writes(log_group_template: str) -> Statement:
    """Write to one log group (its streams)."""
    return allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [
            arn("logs", f"log-group:{log_group_template}"),
            arn("logs", f"log-group:{log_group_template}:log-stream:*"),
        ],
        why=STREAMS_WHY,
    )


def pass_role(role_arn: str, service: str) -> Statement:
    return allow(["iam:PassRole"], role_arn, {"StringEquals": {"iam:PassedToService": service}})


def model_package_group_arn() -> str:
    return arn("sagemaker", f"model-package-group/{NAMES.model_package_group}")


def model_packages_arn() -> str:
    """Versions of this project's group (SageMaker has no narrower ARN than the group's)."""
    return arn("sagemaker", f"model-package/{NAMES.model_package_group}/*")


def sagemaker_image_pull() -> list[Statement]:
    """Pull SageMaker's framework images (owned by AWS accounts that vary by region)."""
    return [
        allow(
            ["ecr:GetAuthorizationToken"],
            "*",
            why="ecr:GetAuthorizationToken does not support resource-level permissions.",
        ),
        allow(
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            cdk.Fn.sub("arn:${AWS::Partition}:ecr:${AWS::Region}:*:repository/sagemaker-scikit-learn"),
            why=(
                "SageMaker's scikit-learn images live in AWS-owned accounts that differ by region; "
                "limited to that one repository."
            ),
        ),
    ]


def sagemaker_metrics() -> Statement:
    return allow(
        ["cloudwatch:PutMetricData"],
        "*",
        {"StringLike": {"cloudwatch:namespace": ["aws/sagemaker/*", "/aws/sagemaker/*"]}},
        why=(
            "cloudwatch:PutMetricData does not support resource-level permissions; "
            "the condition limits it to SageMaker's namespaces."
        ),
    )
