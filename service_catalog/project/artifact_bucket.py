"""The project's artifact bucket: pipeline artifacts, SageMaker outputs, data capture, data/."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from service_catalog.nag import acknowledge
from service_catalog.project.parameters import NAMES, arn

NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7


class ArtifactBucket(Construct):
    """`sagemaker-project-<ProjectId>`: KMS-encrypted, versioned, private, TLS only.

    EventBridge notifications are switched on in the bucket itself (not through
    CDK's notification custom resource) so the data-arrival rule can see uploads.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key_arn: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket_name = NAMES.sub(NAMES.artifact_bucket)
        self.bucket_arn = arn("s3", NAMES.artifact_bucket, regional=False)
        self.objects_arn = arn("s3", NAMES.artifact_bucket + "/*", regional=False)

        self.bucket = s3.CfnBucket(
            self,
            "Bucket",
            bucket_name=self.bucket_name,
            bucket_encryption=s3.CfnBucket.BucketEncryptionProperty(
                server_side_encryption_configuration=[
                    s3.CfnBucket.ServerSideEncryptionRuleProperty(
                        bucket_key_enabled=True,
                        server_side_encryption_by_default=s3.CfnBucket.ServerSideEncryptionByDefaultProperty(
                            sse_algorithm="aws:kms", kms_master_key_id=key_arn
                        ),
                    )
                ]
            ),
            versioning_configuration=s3.CfnBucket.VersioningConfigurationProperty(status="Enabled"),
            public_access_block_configuration=s3.CfnBucket.PublicAccessBlockConfigurationProperty(
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            ownership_controls=s3.CfnBucket.OwnershipControlsProperty(
                rules=[s3.CfnBucket.OwnershipControlsRuleProperty(object_ownership="BucketOwnerEnforced")]
            ),
            notification_configuration=s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
            ),
            lifecycle_configuration=s3.CfnBucket.LifecycleConfigurationProperty(
                rules=[
                    s3.CfnBucket.RuleProperty(
                        id="ExpireOldVersions",
                        status="Enabled",
                        noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                            noncurrent_days=NONCURRENT_VERSION_DAYS
                        ),
                        abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                            days_after_initiation=INCOMPLETE_UPLOAD_DAYS
                        ),
                    )
                ]
            ),
        )
        self.bucket.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "Access to project artifacts is audited through CloudTrail; a per-project access-log "
            "bucket would be one more bucket to secure and empty on deletion.",
        )

        self.policy = s3.CfnBucketPolicy(
            self,
            "Policy",
            bucket=self.bucket.ref,
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:*",
                        "Resource": [
                            self.bucket.attr_arn,
                            cdk.Fn.join("", [self.bucket.attr_arn, "/*"]),
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        )
