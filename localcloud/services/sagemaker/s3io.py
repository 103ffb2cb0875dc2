"""Moving job inputs and outputs between the local S3 and a job's folder.

Downloads keep every object under its destination: ``a/../../x`` is a legal S3 key, and such an
object fails the download (``UnsafeKey``, naming the key) instead of being written elsewhere.
Uploads and archives fail on a symbolic link that leaves the job's folder (``EscapingLink``):
on SageMaker the link would be resolved inside the container, here it would be a file of the host,
so the faithful choice is to stop the job with a reason that names the link rather than upload a
host file or silently leave an output out.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from urllib.parse import urlparse

from localcloud.core.paths import EscapingLink, PathEscape, contained, files_within


class UnsafeKey(ValueError):
    """An object's key would put it outside the folder it is downloaded to."""


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
            try:
                target = contained(destination, relative, what="key")
            except PathEscape:
                raise UnsafeKey(
                    f"S3 object s3://{bucket}/{name} cannot be downloaded: its key leads outside the "
                    f"folder it is downloaded to (a key with '..' segments); rename the object"
                ) from None
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, name, str(target))
            count += 1
    if count == 0:
        raise FileNotFoundError(f"no objects found at {uri}")
    return count


def _shown(folder: Path, owned: Path, relative: str) -> str:
    """A file as the program saw it: ``/opt/ml/processing/output/x``."""
    try:
        return f"/opt/ml/{(folder / relative).relative_to(owned).as_posix()}"
    except ValueError:
        return relative


def upload_folder(s3, folder: Path, uri: str, owned: Path | None = None) -> int:
    """Upload every file below ``folder``; a link may lead anywhere in ``owned`` (the job's /opt/ml)."""
    bucket, prefix = split_uri(uri)
    owned = owned or folder
    chosen = []
    for path, relative, escaping in files_within(folder, owned):
        if escaping is not None:
            raise EscapingLink(_shown(folder, owned, relative), escaping, "/opt/ml")
        chosen.append((path, relative))
    for path, relative in chosen:
        s3.upload_file(str(path), bucket, "/".join(filter(None, [prefix.rstrip("/"), relative])))
    return len(chosen)


def tar_folder(folder: Path, archive: Path, owned: Path | None = None) -> Path:
    """``model.tar.gz`` the way SageMaker packs ``/opt/ml/model``: the folder's contents at the root.

    Links to files of the job are archived as what they point to; a link out of ``owned`` fails."""
    owned = owned or folder
    members = [(p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()]
    for path, relative, escaping in files_within(folder, owned):
        if escaping is not None:
            raise EscapingLink(_shown(folder, owned, relative), escaping, "/opt/ml")
        members.append((relative, path))
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for relative, path in sorted(members):
            tar.add(path, arcname=relative, recursive=False)
    return archive
