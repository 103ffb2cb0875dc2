"""Image environments are built once, completely or not at all, and say how to get one when they cannot be.

A small image of the project's own Python (no libraries, only the model server's httptools, which
this machine's package index holds) keeps these builds to a few seconds each.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from localcloud.services.sagemaker.images import environments, interpreters
from localcloud.services.sagemaker.images.table import FrameworkImage

SMALL = FrameworkImage("0.0-test", "3.11", (), "built by the tests")


def test_concurrent_first_uses_build_once_and_share_the_result(tmp_path):
    said: list[str] = []
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(environments.prepare(SMALL, said.append, tmp_path)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len({built.folder for built in results}) == 1
    assert sum("] building its environment (Python" in line for line in said) == 1, said
    assert sum("waiting for it" in line for line in said) == 2, said
    built = results[0]
    assert built.folder == tmp_path / SMALL.key and built.python.exists()
    assert (built.server_packages / "httptools").is_dir()
    assert built.manifest()["python"].startswith("3.11.") and built.manifest()["installed"]
    assert not list(tmp_path.glob(".building-*")), "the temporary folder is renamed into place"
    again: list[str] = []
    assert environments.prepare(SMALL, again.append, tmp_path).folder == built.folder and again == []


def test_a_half_built_environment_is_never_used_but_built_again(tmp_path):
    half = tmp_path / SMALL.key
    (half / "bin").mkdir(parents=True)
    (half / "left-by-a-crash").write_text("")
    assert environments.find(SMALL, tmp_path) is None
    built = environments.prepare(SMALL, lambda line: None, tmp_path)
    assert built.folder == half and not (half / "left-by-a-crash").exists()


def test_offline_with_nothing_built_the_error_names_the_image_and_the_prepare_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    offline = FrameworkImage("0.1-test", "3.11", ("localcloud-no-such-library==1.0",), "built by the tests")
    with pytest.raises(environments.ImageUnavailable) as raised:
        environments.prepare(offline, lambda line: None, tmp_path)
    message = str(raised.value)
    assert "scikit-learn 0.1-test image" in message and "localcloud-no-such-library" in message
    assert "'localcloud images prepare 0.1-test'" in message
    assert not (tmp_path / offline.key).exists() and not list(tmp_path.glob(".building-*"))


def test_a_python_that_is_nowhere_is_named_with_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    missing = FrameworkImage("0.2-test", "3.99", (), "built by the tests")
    with pytest.raises(interpreters.InterpreterMissing) as raised:
        environments.prepare(missing, lambda line: None, tmp_path)
    message = str(raised.value)
    assert "the scikit-learn 0.2-test image needs Python 3.99" in message
    assert "LOCALCLOUD_PYTHON_3_99" in message and "pyenv install 3.99" in message


def test_a_chosen_python_that_does_not_run_as_that_version_is_an_error_not_skipped(monkeypatch):
    monkeypatch.setenv("LOCALCLOUD_PYTHON_3_11", "/bin/false")
    with pytest.raises(interpreters.InterpreterMissing, match="LOCALCLOUD_PYTHON_3_11 is '/bin/false'"):
        interpreters.find("3.11", "a test")


def test_a_pyenv_shim_that_fails_is_passed_over_for_pyenvs_own_install(tmp_path, monkeypatch):
    shim = tmp_path / "shims" / "python3.11"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.11: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    real = Path(sys.executable).resolve()  # the installation itself, not a shim
    versions = tmp_path / "pyenv" / "versions" / "3.11.99" / "bin"
    versions.mkdir(parents=True)
    (versions / "python3.11").symlink_to(real)
    monkeypatch.setenv("PATH", str(shim.parent))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.delenv("LOCALCLOUD_PYTHON_3_11", raising=False)
    assert interpreters.find("3.11", "a test") == versions / "python3.11"
