"""The project's KMS key: encrypts the artifact bucket, builds and pipeline artifacts."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct


class ProjectKey(Construct):
    """A customer-managed key with rotation on.

    The key policy only delegates to IAM in this account, so each project role's
    own policy decides what it may do with the key.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.CfnKey(
            self,
            "Key",
            description=cdk.Fn.sub("Encrypts the artifacts of SageMaker project ${SageMakerProjectName}"),
            enable_key_rotation=True,
            key_policy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DelegateToIamPoliciesOfThisAccount",
                        "Effect": "Allow",
                        "Principal": {"AWS": cdk.Fn.sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            },
        )
        self.key.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        self.key.add_property_override("PendingWindowInDays", 7)

    @property
    def key_arn(self) -> str:
        return self.key.attr_arn
