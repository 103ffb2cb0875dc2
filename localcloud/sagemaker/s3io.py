"""Moving job inputs and outputs between the local S3 and a job's folder."""

from __future__ import annotations

import tarfile
from pathlib import Path
from urllib.parse import urlparse


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected an s3://bucket/key URI, got {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def download(s3, uri: str, destination: Path) -> int:
    """Download an object, or every object under a prefix, keeping paths relative to the prefix."""
    bucket, key = split_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    count = 0
    paginator = s3.get_paginator("list_objects_v2")
    prefix = key.rstrip("/")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"]
            if name == prefix:
                relative = Path(name).name
            elif name.startswith(prefix + "/") or not prefix:
                relative = name[len(prefix) :].lstrip("/")
            else:
                continue  # "data/train" must not pick up "data/train-old/..."
            if not relative or relative.endswith("/"):
                continue
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, name, str(target))
            count += 1
    if count == 0:
        raise FileNotFoundError(f"no objects found at {uri}")
    return count


def upload_folder(s3, folder: Path, uri: str) -> int:
    bucket, prefix = split_uri(uri)
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = "/".join(filter(None, [prefix.rstrip("/"), path.relative_to(folder).as_posix()]))
        s3.upload_file(str(path), bucket, key)
        count += 1
    return count


def tar_folder(folder: Path, archive: Path) -> Path:
    """``model.tar.gz`` the way SageMaker packs ``/opt/ml/model``: the folder's contents at the root."""
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return archive
