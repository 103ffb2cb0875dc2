"""``AWS::CodeCommit::Repository`` for moto's CloudFormation, seed code (``Code.S3``) included.

moto's CloudFormation silently skips CodeCommit; this model creates the repository through moto's
backend (so it gets its bare repository) and commits the seed zip as the first commit of
``Code.BranchName`` (default ``main``), as CodeCommit does. moto finds the model as a direct
subclass of ``CloudFormationModel``; it keeps this module as ``__module__`` so stacks that hold it
are saved and restored (pickled) by this path.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

from localcloud.services.codecommit import gitrepo, repositories


class SeedCodeError(Exception):
    """The seed archive named by ``Code.S3`` could not be read or committed."""


def read_seed(account_id: str, code: dict[str, Any]) -> bytes:
    location = code.get("S3") or {}
    bucket, key = location.get("Bucket"), location.get("Key")
    if not bucket or not key:
        raise SeedCodeError("Code.S3 needs Bucket and Key: the S3 location of a zip of the seed code")
    try:
        kwargs = {"version_id": location["ObjectVersion"]} if location.get("ObjectVersion") else {}
        return s3_backends[account_id]["aws"].get_object(bucket, key, **kwargs).value
    except Exception as error:
        raise SeedCodeError(
            f"cannot read the seed code at s3://{bucket}/{key} ({error!r}): "
            "upload it first (publishing the template does)"
        ) from error


class Repository(CloudFormationModel):
    """A CodeCommit repository as a CloudFormation resource; ``Ref`` is its id, as in AWS."""

    def __init__(self, account_id: str, region_name: str, metadata: dict[str, Any]):
        self.account_id = account_id
        self.region_name = region_name
        self.metadata = metadata

    @staticmethod
    def cloudformation_name_type() -> str:
        return "RepositoryName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeCommit::Repository"

    @property
    def physical_resource_id(self) -> str:
        return self.metadata["repositoryId"]

    ATTRIBUTES = {
        "Arn": "Arn",
        "CloneUrlHttp": "cloneUrlHttp",
        "CloneUrlSsh": "cloneUrlSsh",
        "Name": "repositoryName",
    }

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES or attr == "KmsKeyId"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "KmsKeyId":
            return "alias/aws/codecommit"
        if attribute_name not in self.ATTRIBUTES:
            raise UnformattedGetAttTemplateException()
        return self.metadata[self.ATTRIBUTES[attribute_name]]

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Repository:
        properties = cloudformation_json.get("Properties", {})
        code = properties.get("Code")
        seed = read_seed(account_id, code) if code else None  # before creating: a bad seed leaves nothing
        backend = repositories.backend(account_id, region_name)
        metadata = backend.create_repository(resource_name, properties.get("RepositoryDescription", ""))
        if seed is not None:
            try:
                gitrepo.seed_from_zip(
                    repositories.path_of(region_name, resource_name), seed, code.get("BranchName") or "main"
                )
            except Exception:
                backend.delete_repository(resource_name)
                raise
        return cls(account_id, region_name, metadata)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ) -> Repository:
        """In place, as CodeCommit does: ``Code`` is read only when the repository is created, so a new seed
        archive (a republished template) leaves the repository and its commits as they are."""
        from localcloud.services.cloudformation.base import ResourceFailed

        current = original_resource.metadata["repositoryName"]
        if new_resource_name != current:
            raise ResourceFailed(
                f"AWS::CodeCommit::Repository {current}: renaming a repository in a stack update is not done by "
                f"the local cloud (asked for {new_resource_name}); keep RepositoryName, or make a new repository"
            )
        description = cloudformation_json.get("Properties", {}).get("RepositoryDescription", "")
        original_resource.metadata["repositoryDescription"] = description
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        repositories.backend(account_id, region_name).delete_repository(self.metadata["repositoryName"])

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = repositories.backend(account_id, region_name)
        for name, repository in list(backend.repositories.items()):
            if resource_name in (name, repository.repository_metadata["repositoryId"]):
                backend.delete_repository(name)
