"""Where the training data comes from when no InputDataUrl is given.

New data lands under the artifact bucket's ``data/`` prefix (the project's data-arrival trigger
watches it and starts a build), so the newest CSV there is used, whatever it holds: an empty or
broken upload fails the Preprocess step with a message naming it, instead of being passed over
for older data. With no CSV there, the CSV shipped in this repository is staged in S3 on demand.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3

SHIPPED_DATASET = Path(__file__).resolve().parent.parent / "data" / "breast_cancer.csv"
LANDING_PREFIX = "data/"


def latest_landed_dataset(bucket: str, region: str, prefix: str = LANDING_PREFIX) -> str | None:
    """The S3 URI of the newest ``.csv`` under ``prefix`` of the bucket (empty ones too), or None."""
    s3 = boto3.Session(region_name=region).client("s3")
    newest = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].lower().endswith(".csv"):
                if newest is None or (item["LastModified"], item["Key"]) > (
                    newest["LastModified"],
                    newest["Key"],
                ):
                    newest = item
    return f"s3://{bucket}/{newest['Key']}" if newest else None


def upload_default_dataset(bucket: str, prefix: str, region: str, source: Path = SHIPPED_DATASET) -> str:
    """Upload the shipped CSV (unless the same bytes are already there) and return its S3 URI.

    The key carries no timestamp, so re-running the build does not pile up copies.
    """
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"{source} is missing: run `python data/make_dataset.py` to regenerate it")
    body = source.read_bytes()
    key = f"{prefix.strip('/')}/data/{source.name}"
    s3 = boto3.Session(region_name=region).client("s3")
    digest = hashlib.md5(body).hexdigest()  # compared with the S3 ETag, not used for security
    try:
        if s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"') == digest:
            return f"s3://{bucket}/{key}"
    except s3.exceptions.ClientError:
        pass
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
    return f"s3://{bucket}/{key}"
