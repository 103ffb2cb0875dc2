"""Pipeline artifacts: zips in the pipeline's artifact store bucket, keyed as CodePipeline keys them."""

from __future__ import annotations

import secrets
import string
from typing import Any


class ArtifactStoreError(Exception):
    """The pipeline has no usable S3 artifact store for this region."""


def store_bucket(pipeline: dict[str, Any], region: str) -> str:
    store = pipeline.get("artifactStore") or (pipeline.get("artifactStores") or {}).get(region)
    if not store or store.get("type", "S3") != "S3" or not store.get("location"):
        raise ArtifactStoreError(
            f"pipeline {pipeline.get('name')} has no S3 artifactStore for {region}: set "
            "artifactStore {type: S3, location: <bucket>}"
        )
    return store["location"]


def new_key(pipeline_name: str, artifact_name: str) -> str:
    """``<pipeline name, 20 chars>/<artifact name, 10 chars>/<random>``: CodePipeline's layout."""
    suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(7))
    return f"{pipeline_name[:20]}/{artifact_name[:10]}/{suffix}"


def location(bucket: str, key: str) -> dict[str, str]:
    return {"bucket": bucket, "key": key}
