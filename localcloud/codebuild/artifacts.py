"""Build outputs: the files a buildspec's ``artifacts`` section names, zipped as CodeBuild uploads them."""

from __future__ import annotations

import fnmatch
import zipfile
from pathlib import Path

from .buildspec import ArtifactSpec


class ArtifactError(Exception):
    """The artifact section matched nothing or points outside the source."""


def _matches(relative: str, pattern: str) -> bool:
    pattern = pattern[2:] if pattern.startswith("./") else pattern
    if pattern in ("**/*", "**"):
        return True
    if fnmatch.fnmatch(relative, pattern):
        return True
    if pattern.startswith("**/"):
        return fnmatch.fnmatch(relative, pattern[3:]) or fnmatch.fnmatch(relative, pattern)
    if pattern.endswith("/**/*") or pattern.endswith("/**"):
        prefix = pattern.split("/**", 1)[0]
        return relative.startswith(prefix.rstrip("/") + "/")
    return False


def collect(spec: ArtifactSpec, src: Path) -> list[tuple[Path, str]]:
    """(file on disk, name in the archive) for every matched file, in a stable order."""
    base = (src / spec.base_directory).resolve() if spec.base_directory else src.resolve()
    if not str(base).startswith(str(src.resolve())):
        raise ArtifactError(f"artifacts base-directory {spec.base_directory!r} is outside the source directory")
    if not base.is_dir():
        raise ArtifactError(f"artifacts base-directory {spec.base_directory!r} does not exist after the build")
    chosen: list[tuple[Path, str]] = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        relative = path.relative_to(base).as_posix()
        if not any(_matches(relative, pattern) for pattern in spec.files):
            continue
        if any(_matches(relative, pattern) for pattern in spec.exclude_paths):
            continue
        chosen.append((path, path.name if spec.discard_paths else relative))
    if not chosen:
        raise ArtifactError(
            f"no artifact files matched {spec.files} under {spec.base_directory or 'the source directory'}"
        )
    return chosen


def zip_files(files: list[tuple[Path, str]], destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path, name in files:
            bundle.write(path, name)
    return destination
