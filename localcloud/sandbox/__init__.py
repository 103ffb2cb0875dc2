"""Run a job's program as a host process that sees SageMaker's container layout.

bubblewrap gives the process a private mount namespace: the host's filesystem read-only, a fresh
``/tmp``, the job's folder mounted at ``/opt/ml``, and an ``/etc/hosts`` that knows ``algo-1``. The
project's Python stands in for the framework image: its ``bin`` comes first on ``PATH``, so the
``python3`` of a container entrypoint is ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

INSTALL_HINT = (
    "bubblewrap ('bwrap') is required to run local SageMaker jobs and endpoints but was not found on PATH. "
    "Install it with 'sudo apt-get install bubblewrap' (Debian/Ubuntu), 'sudo dnf install bubblewrap' "
    "(Fedora) or run 'make install' as root."
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing: nothing can run, and the message says how to fix it."""


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable(INSTALL_HINT)
    return found


def python_bin_dir() -> str:
    return str(Path(sys.executable).parent)


def _host_paths_hidden_by_tmp() -> list[str]:
    """The project's Python and code, when they live under /tmp (a checkout in a temporary folder):
    the sandbox's private /tmp would hide them, so they are mounted back, read-only."""
    from .config import REPO_ROOT

    wanted = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent, REPO_ROOT}
    hidden = sorted({str(p.resolve()) for p in wanted if p.resolve().is_relative_to("/tmp")})
    # a path inside another one is already visible through it
    return [p for p in hidden if not any(p != q and Path(p).is_relative_to(q) for q in hidden)]


def _hosts_file(job_dir: Path) -> Path:
    hosts = job_dir / "hosts"
    hosts.write_text("127.0.0.1 localhost algo-1\n::1 localhost\n")
    return hosts


def command(ml_dir: Path, argv: Sequence[str], env: dict[str, str], workdir: str = "/opt/ml") -> list[str]:
    """The bwrap command line that runs ``argv`` with ``ml_dir`` as ``/opt/ml``."""
    ml_dir = Path(ml_dir)
    hosts = _hosts_file(ml_dir.parent)
    args = [
        bwrap_path(),
        "--die-with-parent",
        "--unshare-all",
        "--share-net",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/opt",
    ]
    # /opt is replaced to make room for /opt/ml; keep whatever else the host has there visible.
    if os.path.isdir("/opt"):
        for entry in sorted(os.listdir("/opt")):
            if entry != "ml":
                args += ["--ro-bind", f"/opt/{entry}", f"/opt/{entry}"]
    for path in _host_paths_hidden_by_tmp():
        args += ["--ro-bind", path, path]
    args += ["--bind", str(ml_dir), "/opt/ml", "--ro-bind", str(hosts), "/etc/hosts", "--chdir", workdir, "--clearenv"]
    full_env = {
        "PATH": f"{python_bin_dir()}:{SYSTEM_PATH}",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
    }
    full_env.update(env)
    for key, value in full_env.items():
        args += ["--setenv", key, str(value)]
    return [*args, "--", *argv]


def run(
    ml_dir: Path,
    argv: Sequence[str],
    env: dict[str, str],
    on_line: Callable[[str], None],
    workdir: str = "/opt/ml",
    stop: Callable[[], bool] | None = None,
) -> int:
    """Run to completion, handing every output line to ``on_line``; returns the exit code."""
    process = subprocess.Popen(
        command(ml_dir, argv, env, workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    for line in process.stdout:
        on_line(line.rstrip("\n"))
        if stop and stop():
            process.kill()
    return process.wait()


def start(
    ml_dir: Path, argv: Sequence[str], env: dict[str, str], log_path: Path, workdir: str = "/opt/ml"
) -> subprocess.Popen:
    """Start a long-running program (a model server) with its output going to ``log_path``."""
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
    return subprocess.Popen(
        command(ml_dir, argv, env, workdir), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
