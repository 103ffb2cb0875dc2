"""Deterministic zip archives of the seed repositories.

The same tracked files must give the same bytes: CloudFormation sees a new
asset (and CodeCommit a new initial commit) only when the source really
changed, and two builds of one commit can be compared byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

SEED_FOLDERS = ("modelbuild", "modeldeploy")

# 1980-01-01 is the earliest timestamp a zip entry can hold.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
REGULAR_FILE_MODE = 0o100644
EXECUTABLE_FILE_MODE = 0o100755

# Never shipped, even if someone commits them by mistake.
EXCLUDED_DIR_NAMES = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".ipynb_checkpoints",
        "node_modules",
        "cdk.out",
        ".localcloud",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
EXCLUDED_FILE_NAMES = frozenset({".DS_Store"})


@dataclass(frozen=True)
class SeedArchive:
    """A written seed archive and what it holds."""

    name: str
    path: Path
    sha256: str
    files: tuple[str, ...]


def is_excluded(relative_path: str) -> bool:
    """True for caches, virtualenvs and other files that must not reach a repository."""
    parts = relative_path.split("/")
    if any(part in EXCLUDED_DIR_NAMES for part in parts[:-1]):
        return True
    name = parts[-1]
    return name in EXCLUDED_FILE_NAMES or name.endswith(EXCLUDED_SUFFIXES)


def _git_tracked_files(folder: Path) -> dict[str, int] | None:
    """Tracked files of `folder` with their git modes, or None when git cannot tell.

    None means "not a git work tree" (or git missing) or "nothing tracked yet";
    the caller then walks the folder instead.
    """
    try:
        result = subprocess.run(
            ["git", "ls-files", "--stage", "-z", "--", "."],
            cwd=folder,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if result.returncode != 0:
        return None
    tracked: dict[str, int] = {}
    for record in result.stdout.decode("utf-8").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode = int(meta.split(" ", 1)[0], 8)
        if mode not in (REGULAR_FILE_MODE, EXECUTABLE_FILE_MODE):
            continue  # symlinks and submodules have no place in a seed repository
        tracked[path] = mode
    return tracked or None


def _walked_files(folder: Path) -> dict[str, int]:
    """Files under `folder` found by walking it, caches pruned."""
    found: dict[str, int] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIR_NAMES]
        for name in files:
            full = Path(root) / name
            if full.is_symlink() or not full.is_file():
                continue
            relative = full.relative_to(folder).as_posix()
            executable = os.access(full, os.X_OK)
            found[relative] = EXECUTABLE_FILE_MODE if executable else REGULAR_FILE_MODE
    return found


def list_seed_files(folder: Path) -> dict[str, int]:
    """Relative POSIX paths -> file modes of what goes into the archive of `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"seed folder {folder} does not exist: the seed archives are built from the "
            f"repository's {', '.join(SEED_FOLDERS)} folders; run from the repository root"
        )
    candidates = _git_tracked_files(folder)
    if candidates is None:
        candidates = _walked_files(folder)
    files = {path: mode for path, mode in candidates.items() if not is_excluded(path) and (folder / path).is_file()}
    if not files:
        raise ValueError(
            f"seed folder {folder} holds no files to archive: add the seed repository's "
            "files there (and commit them) before synthesizing"
        )
    return files


def write_deterministic_zip(files: dict[str, tuple[bytes, int]], destination: Path) -> str:
    """Write `{archive path: (content, mode)}` to `destination`; return its SHA-256.

    Entries are sorted, dated 1980-01-01 and carry only a regular/executable mode,
    so equal input gives equal bytes.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(temporary, "w") as archive:
        for name in sorted(files):
            content, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (mode & 0xFFFF) << 16
            archive.writestr(info, content, compresslevel=9)
    temporary.replace(destination)
    return hashlib.sha256(destination.read_bytes()).hexdigest()


def build_seed_archive(source: Path, destination: Path) -> SeedArchive:
    """Archive the seed repository in `source` to `destination`."""
    source = Path(source)
    listed = list_seed_files(source)
    contents = {path: ((source / path).read_bytes(), mode) for path, mode in listed.items()}
    digest = write_deterministic_zip(contents, destination)
    return SeedArchive(name=source.name, path=Path(destination), sha256=digest, files=tuple(sorted(listed)))


def build_seed_archives(repo_root: Path, out_dir: Path) -> dict[str, SeedArchive]:
    """Build `<out_dir>/<folder>.zip` for each seed folder of the repository at `repo_root`."""
    repo_root, out_dir = Path(repo_root), Path(out_dir)
    return {folder: build_seed_archive(repo_root / folder, out_dir / f"{folder}.zip") for folder in SEED_FOLDERS}
