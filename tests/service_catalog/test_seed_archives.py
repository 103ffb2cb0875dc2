"""Seed archives: tracked files only, no caches, and the same source gives the same bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from seed_code import SEED_FOLDERS, build_seed_archives
from seed_code.archive import build_seed_archive, is_excluded
from tests.service_catalog.conftest import REPO_ROOT

CACHE_MARKERS = ("__pycache__/", ".pyc", ".pytest_cache/", ".venv/", ".ruff_cache/", ".ipynb_checkpoints/")


def entries(path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as archive:
        return archive.infolist()


def write(root: Path, relative: str, text: str = "x\n") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def test_repository_seed_archives_are_byte_identical_across_builds(tmp_path):
    first = build_seed_archives(REPO_ROOT, tmp_path / "one")
    second = build_seed_archives(REPO_ROOT, tmp_path / "two")
    for folder in SEED_FOLDERS:
        assert first[folder].path.read_bytes() == second[folder].path.read_bytes(), folder
        assert first[folder].sha256 == hashlib.sha256(second[folder].path.read_bytes()).hexdigest()


def test_caches_left_behind_do_not_change_the_archive(tmp_path):
    copy = tmp_path / "modelbuild"
    shutil.copytree(REPO_ROOT / "modelbuild", copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before = build_seed_archive(copy, tmp_path / "before.zip")
    # What running the seed's own tests leaves behind.
    write(copy, "pipelines/__pycache__/pipeline.cpython-311.pyc")
    write(copy, ".pytest_cache/v/cache/nodeids")
    write(copy, ".venv/bin/activate")
    after = build_seed_archive(copy, tmp_path / "after.zip")
    assert after.path.read_bytes() == before.path.read_bytes()


def test_repository_seed_archives_hold_no_caches_and_fixed_metadata(tmp_path):
    for archive in build_seed_archives(REPO_ROOT, tmp_path).values():
        infos = entries(archive.path)
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert not [n for n in names if any(marker in n for marker in CACHE_MARKERS)]
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} <= {0o100644, 0o100755}


def test_seed_archives_carry_the_repositories_entry_points(tmp_path):
    archives = build_seed_archives(REPO_ROOT, tmp_path)
    assert "data/breast_cancer.csv" in archives["modelbuild"].files
    assert "endpoint-config-template.yml" in archives["modeldeploy"].files


def test_walk_fallback_skips_caches_and_virtualenvs(tmp_path):
    source = tmp_path / "seed"
    for relative in (
        "app.py",
        "pkg/mod.py",
        "pkg/__pycache__/mod.cpython-311.pyc",
        "stale.pyc",
        ".venv/lib/site.py",
        ".pytest_cache/v/cache",
        "notebooks/.ipynb_checkpoints/a.ipynb",
    ):
        write(source, relative)
    archive = build_seed_archive(source, tmp_path / "seed.zip")
    assert archive.files == ("app.py", "pkg/mod.py")


def test_git_mode_archives_only_tracked_files_with_their_modes(tmp_path):
    source = tmp_path / "repo"
    write(source, "tracked.py")
    write(source, "run.sh", "#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    git(source, "init", "-q")
    git(source, "add", "tracked.py", "run.sh")
    git(source, "commit", "-qm", "seed")
    write(source, "untracked.py")
    archive = build_seed_archive(source, tmp_path / "seed.zip")
    assert archive.files == ("run.sh", "tracked.py")
    modes = {info.filename: info.external_attr >> 16 for info in entries(archive.path)}
    assert modes == {"run.sh": 0o100755, "tracked.py": 0o100644}


def test_content_change_changes_the_archive(tmp_path):
    source = tmp_path / "seed"
    write(source, "a.py", "one\n")
    before = build_seed_archive(source, tmp_path / "before.zip").sha256
    write(source, "a.py", "two\n")
    assert build_seed_archive(source, tmp_path / "after.zip").sha256 != before


def test_missing_or_empty_seed_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_seed_archive(tmp_path / "nope", tmp_path / "x.zip")
    (tmp_path / "empty" / "__pycache__").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no files to archive"):
        build_seed_archive(tmp_path / "empty", tmp_path / "x.zip")


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("pkg/__pycache__/m.pyc", True),
        ("m.pyc", True),
        (".venv/bin/python", True),
        ("pkg/m.py", False),
        ("docs/venv.md", False),
    ],
)
def test_exclusion_rules(path, excluded):
    assert is_excluded(path) is excluded


def test_product_publishes_exactly_the_built_seed_archives(synthesized):
    by_name = {asset["displayName"]: asset for asset in synthesized.assets_manifest["files"].values()}
    for folder, asset_name in (("modelbuild", "ModelBuildSeedCode"), ("modeldeploy", "ModelDeploySeedCode")):
        staged = synthesized.result.cdk_out / by_name[asset_name]["source"]["path"]
        built = synthesized.result.dist / "seed" / f"{folder}.zip"
        assert staged.read_bytes() == built.read_bytes()
