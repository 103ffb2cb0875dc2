"""Finding a Python of a given version on this machine, one that really runs.

An image needs its own Python (3.9 for scikit-learn 1.2-1, 3.12 for 1.9-0). A ``python3.X`` on PATH
may be a pyenv shim that only says the version is not selected, so every candidate is run and asked
its version. Looked at, in order: ``LOCALCLOUD_PYTHON_3_X`` (a path: what the user chose wins, and a
wrong one is an error, not skipped), ``python3.X`` on PATH, then pyenv's installs
(``$PYENV_ROOT``, else ``pyenv root``, else ``~/.pyenv``), newest patch release first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"
PROBE_SECONDS = 20


class InterpreterMissing(RuntimeError):
    """No working Python of the version an image needs; the message says how to provide one."""


def variable(version: str) -> str:
    return f"LOCALCLOUD_PYTHON_{version.replace('.', '_')}"


def runs_as(path: str | Path, version: str) -> bool:
    """Whether ``path`` starts and is Python ``version`` (major.minor)."""
    try:
        done = subprocess.run(
            [str(path), "-I", "-c", PROBE], capture_output=True, text=True, timeout=PROBE_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            done = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=PROBE_SECONDS, check=False)
            if done.returncode == 0 and done.stdout.strip():
                return Path(done.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def _release(folder: Path) -> tuple[int, ...]:
    parts = folder.name.split(".")
    return tuple(int(part) if part.isdigit() else -1 for part in parts)


def pyenv_candidates(version: str) -> list[Path]:
    root = pyenv_root()
    if root is None or not (root / "versions").is_dir():
        return []
    folders = [f for f in (root / "versions").iterdir() if f.name == version or f.name.startswith(version + ".")]
    return [folder / "bin" / f"python{version}" for folder in sorted(folders, key=_release, reverse=True)]


def find(version: str, needed_by: str) -> Path:
    """A Python ``version`` that runs, for ``needed_by`` (named in the error when there is none)."""
    chosen = os.environ.get(variable(version), "").strip()
    if chosen:
        if runs_as(chosen, version):
            return Path(chosen)
        raise InterpreterMissing(
            f"{variable(version)} is {chosen!r}, which is not a working Python {version}: "
            f"point it at a python{version} executable, or unset it to search PATH and pyenv"
        )
    on_path = shutil.which(f"python{version}")
    candidates = ([Path(on_path)] if on_path else []) + pyenv_candidates(version)
    for candidate in candidates:
        if candidate.exists() and runs_as(candidate, version):
            return candidate
    raise InterpreterMissing(
        f"{needed_by} needs Python {version}, and no working python{version} was found "
        f"(looked at {variable(version)}, python{version} on PATH and pyenv's versions): install it "
        f"(e.g. 'pyenv install {version}' or your system's python{version} package) or set "
        f"{variable(version)} to its executable"
    )
