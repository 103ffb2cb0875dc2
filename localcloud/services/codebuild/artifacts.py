"""Build outputs: the files a buildspec's ``artifacts`` section names, zipped as CodeBuild uploads them.

A symbolic link whose target is outside the build's folder is left out, with a line in the build
log that names it. CodeBuild follows links inside its build container; here the link is resolved on
the host, where its target is a host file the build never saw. A build whose ``files: ['**/*']``
sweeps over toolchain links (a virtualenv's ``bin/python``) still passes on CodeBuild, so leaving
such links out and saying so is what a CodeBuild user expects; failing the build would not be.
"""

from __future__ import annotations

import fnmatch
import zipfile
from collections.abc import Callable
from pathlib import Path

from localcloud.core.paths import PathEscape, contained, files_within
from localcloud.services.codebuild.buildspec import ArtifactSpec


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


def collect(
    spec: ArtifactSpec, src: Path, owned: Path | None = None, log: Callable[[str], None] | None = None
) -> list[tuple[Path, str]]:
    """(file on disk, name in the archive) for every matched file, in a stable order.

    ``owned`` is the build's folder (what the sandbox saw); links may lead anywhere inside it."""
    try:
        base = contained(src, spec.base_directory, what="base-directory") if spec.base_directory else src
    except PathEscape:
        raise ArtifactError(
            f"artifacts base-directory {spec.base_directory!r} is outside the source directory"
        ) from None
    if not base.is_dir():
        raise ArtifactError(f"artifacts base-directory {spec.base_directory!r} does not exist after the build")
    chosen: list[tuple[Path, str]] = []
    for path, relative, escaping in files_within(base, owned or src):
        if escaping is not None:
            if log and any(_matches(relative, pattern) for pattern in spec.files):
                log(
                    f"[Container] Skipping artifact {relative}: a symbolic link to {escaping}, outside the "
                    "build's folder (the local cloud does not read host files through links)"
                )
            continue
        if not any(_matches(relative, pattern) for pattern in spec.files):
            continue
        if any(_matches(relative, pattern) for pattern in spec.exclude_paths):
            continue
        chosen.append((path, Path(relative).name if spec.discard_paths else relative))
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
