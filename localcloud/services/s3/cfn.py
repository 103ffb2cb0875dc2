"""S3: AWS::S3::BucketPolicy (new), bucket policy conditions, and non-empty buckets that stay.

- moto's bucket model reports a non-empty bucket as deleted while keeping it; CloudFormation fails
  the deletion instead ("The bucket you tried to delete is not empty"), which is why a project's
  cleanup function must empty its bucket first.
- moto enforces bucket policies but ignores their conditions, so the usual "deny unless
  aws:SecureTransport" statement denies everything. Here ``aws:SecureTransport`` is evaluated as
  true (the local cloud stands in for AWS's TLS endpoints) and a statement with any condition this
  local cloud cannot evaluate is left out of the decision.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

from localcloud.core import moto_seam as seam
from localcloud.services.cloudformation.base import ResourceFailed, StackResource
from localcloud.services.cloudformation.properties import as_bool, require

TYPE = "AWS::S3::BucketPolicy"


def _backend(account_id: str, region_name: str):
    return s3_backends[account_id][get_partition(region_name)]


class CfnBucketPolicy(StackResource, CloudFormationModel):
    TYPE = TYPE

    def __init__(self, bucket: str):
        self.bucket = bucket
        self.physical_id = bucket
        self.attributes = {}

    @classmethod
    def _put(cls, properties: dict[str, Any], account_id: str, region_name: str) -> CfnBucketPolicy:
        bucket = require(properties, "Bucket", TYPE)
        document = require(properties, "PolicyDocument", TYPE)
        policy = document if isinstance(document, str) else json.dumps(document)
        try:
            _backend(account_id, region_name).put_bucket_policy(bucket, policy.encode())
        except MissingBucket:
            raise ResourceFailed(f"{TYPE}: bucket {bucket} does not exist") from None
        return cls(bucket)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._put(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        updated = cls._put(cloudformation_json["Properties"], account_id, region_name)
        if updated.bucket != original_resource.bucket:
            original_resource.delete(account_id, region_name)
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            _backend(account_id, region_name).delete_bucket_policy(self.bucket)
        except MissingBucket:
            pass


def _condition_holds(condition: dict[str, Any] | None) -> bool:
    for operator, tests in (condition or {}).items():
        for key, expected in tests.items():
            if key.lower() != "aws:securetransport" or operator not in ("Bool", "BoolIfExists"):
                return False
            values = expected if isinstance(expected, list) else [expected]
            if "true" not in [str(v).lower() for v in values]:
                return False
    return True


def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    """moto's decision, over the statements whose conditions hold (see the module's docstring)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [
        {k: v for k, v in s.items() if k != "Condition"} for s in statements if _condition_holds(s.get("Condition"))
    ]
    if not kept:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)


def delete_bucket(cls, resource_name, cloudformation_json, account_id, region_name) -> None:
    """Delete an empty bucket; a bucket with objects (or versions) fails the deletion."""
    backend = _backend(account_id, region_name)
    try:
        bucket = backend.get_bucket(resource_name)
    except MissingBucket:
        return
    if bucket.keys:
        raise ResourceFailed(
            f"The bucket you tried to delete is not empty: {resource_name} still holds "
            f"{len(bucket.keys)} key(s); empty it (all versions) and delete again"
        )
    backend.delete_bucket(resource_name)


def _apply_bucket_settings(create):
    """moto's bucket applies only encryption and tags; apply what the project's bucket relies on:
    versioning (the cleanup deletes versions), the public access block, and EventBridge
    notifications (the data-arrival trigger). Lifecycle rules are accepted and not enforced."""

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = create.__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = _backend(account_id, region_name)
        versioning = properties.get("VersioningConfiguration", {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        if properties.get("PublicAccessBlockConfiguration"):
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
        eventbridge = properties.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {})
        if as_bool(eventbridge.get("EventBridgeEnabled", False)):
            backend.put_bucket_notification_configuration(bucket.name, {"EventBridgeConfiguration": {}})
        return bucket

    return classmethod(create_from_cloudformation_json)


def install() -> None:
    seam.patch(
        FakeBucket,
        "create_from_cloudformation_json",
        wrap=_apply_bucket_settings,
        why="a stack's bucket gets its versioning, public access block and EventBridge notifications",
        until="moto applying those AWS::S3::Bucket properties (it applies only encryption and tags)",
    )
    seam.patch(
        FakeBucket,
        "delete_from_cloudformation_json",
        value=classmethod(delete_bucket),
        why="a non-empty bucket fails the stack's deletion, as CloudFormation does (moto reports it deleted)",
        until="moto failing the deletion of a non-empty bucket",
    )
    seam.patch(
        FakeBucket,
        "get_permission",
        value=get_permission,
        why="a policy's aws:SecureTransport holds; statements with conditions we cannot evaluate are left out",
        until="moto evaluating bucket policy conditions (it ignores them, so a deny-unless-TLS denies all)",
    )
