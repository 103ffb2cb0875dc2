"""Bare git repositories on disk: the storage behind the local CodeCommit.

Everything goes through the ``git`` command line, so what a user's ``git clone`` sees is exactly
what is stored. Repositories live at ``<state root>/codecommit/<region>/<name>.git``.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path

from localcloud.core import names
from localcloud.core.paths import contained
from localcloud.services.codecommit import hook

ZERO_COMMIT = "0" * 40
SEED_IDENTITY = {
    "GIT_AUTHOR_NAME": "AWS CloudFormation",
    "GIT_AUTHOR_EMAIL": "cloudformation@localhost",
    "GIT_COMMITTER_NAME": "AWS CloudFormation",
    "GIT_COMMITTER_EMAIL": "cloudformation@localhost",
}


class GitError(Exception):
    """A git command failed; the message carries git's own explanation."""


def repository_path(state_root: Path, region: str, name: str) -> Path:
    """The bare repository of ``name``; a name CodeCommit refuses never becomes a path (AwsError)."""
    names.REGION.check(region)
    return contained(Path(state_root) / "codecommit", region, f"{names.REPOSITORY.check(name)}.git", what="repository")


def clone_url(path: Path) -> str:
    """``git clone`` and ``git push`` take this as is: the bare repository on the local disk."""
    return path.resolve().as_uri()


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.update(extra or {})
    return env


def git(path: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", "--git-dir", str(path), *args],
        capture_output=True,
        input=input,
        env=_environment(env),
        check=False,
    )
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode(errors="replace")


def create(path: Path, default_branch: str = "main") -> None:
    """An empty bare repository whose pushes announce themselves (see ``hook``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
        check=True,
        capture_output=True,
        env=_environment(),
    )
    install_hook(path)


def install_hook(path: Path) -> None:
    target = path / "hooks" / "post-receive"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(hook.script())
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _extract(archive: bytes, into: Path) -> None:
    """Unpack a zip keeping executable bits (git records them); refuse paths that escape."""
    try:
        bundle = zipfile.ZipFile(io.BytesIO(archive))
    except zipfile.BadZipFile as error:
        raise GitError(f"the seed code is not a zip archive: {error}") from error
    root = into.resolve()
    for member in bundle.infolist():
        destination = (into / member.filename).resolve()
        if root not in destination.parents and destination != root:
            raise GitError(f"the seed zip holds a path outside its root: {member.filename!r}")
        if member.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(bundle.read(member))
        mode = (member.external_attr >> 16) & 0o777
        if mode & 0o111:
            destination.chmod(0o755)


def seed_from_zip(path: Path, archive: bytes, branch: str, message: str = "Initial commit") -> str:
    """Commit the archive's files as the first commit of ``branch`` and make it the default branch."""
    with tempfile.TemporaryDirectory(prefix="seed-") as scratch:
        tree_dir = Path(scratch) / "tree"
        tree_dir.mkdir()
        _extract(archive, tree_dir)
        env = {
            "GIT_WORK_TREE": str(tree_dir),
            "GIT_INDEX_FILE": str(Path(scratch) / "index"),
            **SEED_IDENTITY,
        }
        git(path, "add", "--all", "--force", ".", env=env)
        tree = git(path, "write-tree", env=env).strip()
        commit = git(path, "commit-tree", tree, "-m", message, env=env).strip()
    git(path, "update-ref", f"refs/heads/{branch}", commit, ZERO_COMMIT)
    git(path, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return commit


def default_branch(path: Path) -> str | None:
    try:
        return git(path, "symbolic-ref", "--short", "HEAD").strip()
    except GitError:
        return None


def branches(path: Path) -> dict[str, str]:
    """Branch name -> commit id."""
    out = git(path, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/")
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


def resolve_commit(path: Path, commit_id: str) -> str | None:
    try:
        return git(path, "rev-parse", "--verify", "--quiet", f"{commit_id}^{{commit}}").strip() or None
    except GitError:
        return None


def set_branch(path: Path, branch: str, commit_id: str) -> None:
    git(path, "update-ref", f"refs/heads/{branch}", commit_id)


def delete_branch(path: Path, branch: str) -> None:
    git(path, "update-ref", "-d", f"refs/heads/{branch}")


def commit_info(path: Path, commit_id: str) -> dict:
    """A commit in CodeCommit's ``GetCommit`` shape."""
    fields = "%H%x00%T%x00%P%x00%an%x00%ae%x00%at %ai%x00%cn%x00%ce%x00%ct %ci%x00%B"
    out = git(path, "show", "-s", f"--format={fields}", commit_id)
    (full, tree, parents, a_name, a_mail, a_date, c_name, c_mail, c_date, message) = out.split("\x00", 9)

    def when(stamp: str) -> str:
        seconds, _, human = stamp.partition(" ")
        return f"{seconds} {human.rsplit(' ', 1)[-1]}"

    return {
        "commitId": full,
        "treeId": tree,
        "parents": parents.split(),
        "message": message.rstrip("\n") + "\n",
        "author": {"name": a_name, "email": a_mail, "date": when(a_date)},
        "committer": {"name": c_name, "email": c_mail, "date": when(c_date)},
        "additionalData": "",
    }
