"""Where a build's source comes from: local git repositories (CodeCommit or a connection) or S3 zips.

Repositories are the local cloud's bare repositories at
``<state root>/codecommit/<region>/<name>.git``; a GitHub or CodeConnections location names the
local repository by its last path segment (``owner/name`` -> ``name``).
"""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from localcloud.core.errors import AwsError
from localcloud.core.paths import PathEscape, contained
from localcloud.services.codecommit import gitrepo
from localcloud.services.sagemaker.s3io import split_uri


class SourceError(Exception):
    """The source cannot be fetched; the message says which and why."""


@dataclass
class Fetched:
    folder: Path
    resolved_version: str


def repository_path(state_root: Path, region: str, name: str) -> Path:
    """The local repository named by a source location; a name CodeCommit refuses is a SourceError."""
    try:
        return gitrepo.repository_path(state_root, region, name)
    except (AwsError, PathEscape) as error:
        raise SourceError(f"repository {name!r}: {getattr(error, 'message', error)}") from None


def _git(repo: Path, *args: str) -> bytes:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True)
    if result.returncode != 0:
        raise SourceError(
            f"git {' '.join(args)} failed in {repo.name}: {result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


def resolve_commit(repo: Path, version: str | None) -> str:
    """A branch name, ``refs/heads/...`` or commit id -> the commit id (HEAD when not given)."""
    if not repo.is_dir():
        raise SourceError(f"repository {repo.name[:-4]} does not exist (no local repository at {repo})")
    candidates = [version] if version else ["HEAD"]
    if version and not version.startswith("refs/") and not re.fullmatch(r"[0-9a-f]{7,40}", version):
        candidates = [f"refs/heads/{version}", version]
    for candidate in candidates:
        result = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"],
            capture_output=True,
            text=True,
        )
        if result.returncode == 0:
            return result.stdout.strip()
    raise SourceError(f"repository {repo.name[:-4]} has no branch or commit {version or 'HEAD'!r}")


def commit_details(repo: Path, commit: str) -> dict[str, str]:
    fields = _git(repo, "log", "-1", "--format=%an%x00%ae%x00%aI%x00%cI%x00%B", commit).decode()
    author, email, author_date, committer_date, message = fields.split("\x00", 4)
    return {
        "AuthorName": author,
        "AuthorEmail": email,
        "AuthorDate": author_date,
        "CommitterDate": committer_date,
        "CommitMessage": message.strip(),
    }


def archive(repo: Path, commit: str) -> bytes:
    """The tree of ``commit`` as a zip, like CodePipeline's source artifact."""
    return _git(repo, "archive", "--format=zip", commit)


def extract_zip(data: bytes, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            for member in bundle.infolist():
                try:
                    destination = contained(target, member.filename.rstrip("/") or ".", what="zip entry")
                except PathEscape:
                    raise SourceError(f"zip entry {member.filename!r} points outside the source folder") from None
                bundle.extract(member, target)
                mode = member.external_attr >> 16
                if mode and not member.is_dir():
                    destination.chmod(mode & 0o777 or 0o644)
    except zipfile.BadZipFile as error:
        raise SourceError(f"source is not a zip archive: {error}") from error


def repository_name(location: str) -> str:
    """``https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>``, a GitHub URL or ``owner/name``."""
    name = location.rstrip("/").rsplit("/", 1)[-1]
    return name[:-4] if name.endswith(".git") else name


def s3_location(location: str) -> tuple[str, str]:
    """``bucket/key``, ``s3://bucket/key`` or ``arn:aws:s3:::bucket/key`` -> (bucket, key)."""
    if location.startswith("arn:"):
        location = location.split(":::", 1)[1]
    if location.startswith("s3://"):
        return split_uri(location)
    bucket, _, key = location.partition("/")
    if not bucket or not key:
        raise SourceError(f"S3 source location {location!r} must be 'bucket/key.zip'")
    return bucket, key


def fetch(kind: str, location: str, version: str | None, target: Path, state_root: Path, region: str, s3) -> Fetched:
    """Put the source's files into ``target``."""
    kind = (kind or "").upper()
    target.mkdir(parents=True, exist_ok=True)
    if kind == "NO_SOURCE":
        return Fetched(target, "")
    if kind in ("CODECOMMIT", "GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET", "GITLAB", "GITLAB_SELF_MANAGED"):
        repo = repository_path(state_root, region, repository_name(location))
        commit = resolve_commit(repo, version)
        extract_zip(archive(repo, commit), target)
        return Fetched(target, commit)
    if kind == "S3":
        bucket, key = s3_location(location)
        try:
            response = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
        except s3.exceptions.NoSuchKey as missing:
            raise SourceError(f"S3 source s3://{bucket}/{key} does not exist") from missing
        except s3.exceptions.NoSuchBucket as missing:
            raise SourceError(f"S3 source bucket {bucket} does not exist") from missing
        extract_zip(response["Body"].read(), target)
        return Fetched(target, response.get("VersionId") or f"s3://{bucket}/{key}")
    if kind == "CODEPIPELINE":
        raise SourceError(
            "source type CODEPIPELINE is provided by CodePipeline: start this project from a "
            "pipeline, or override the source with sourceTypeOverride"
        )
    raise SourceError(
        f"source type {kind or '(none)'} is not supported locally; use CODECOMMIT, GITHUB, S3 or NO_SOURCE"
    )
