"""The artifact bucket: project key, versioned, private, TLS only, EventBridge on, old versions expire."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from tests.service_catalog.conftest import PROJECT
from tests.service_catalog.template_tools import of_type, one_of_type, render


def test_bucket_is_named_after_the_project_and_encrypted_with_the_project_key(product):
    rendered = render(product, PROJECT)
    bucket_id, bucket = one_of_type(rendered, "AWS::S3::Bucket", BucketName="sagemaker-project-p-abc123def456")
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    default = rule["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    key_id = default["KMSMasterKeyID"]["Fn::GetAtt"][0]
    assert rendered["Resources"][key_id]["Type"] == "AWS::KMS::Key"
    assert rendered["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


def test_bucket_is_versioned_private_and_notifies_eventbridge(product):
    Template.from_json(product).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 30}})]
                )
            },
        },
    )


def test_bucket_policy_denies_every_request_without_tls(product):
    (bucket_id,) = of_type(product, "AWS::S3::Bucket")
    Template.from_json(product).has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "s3:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            "Resource": [
                                {"Fn::GetAtt": [bucket_id, "Arn"]},
                                {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
                            ],
                        }
                    ]
                )
            },
        },
    )


def test_bucket_and_key_are_deleted_with_the_project(product):
    for resource_type in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::CodeCommit::Repository"):
        for resource in of_type(product, resource_type).values():
            assert resource["DeletionPolicy"] == "Delete", resource_type
