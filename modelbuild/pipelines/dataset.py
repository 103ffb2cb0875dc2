"""The default training data: the CSV shipped in this repository, staged in S3 on demand."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3

SHIPPED_DATASET = Path(__file__).resolve().parent.parent / "data" / "breast_cancer.csv"


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
