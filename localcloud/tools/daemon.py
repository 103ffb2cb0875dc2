"""Start, stop and check the local cloud as a background process bound to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from localcloud.core import config


@dataclass
class Status:
    running: bool
    pid: int | None
    url: str | None
    state_dir: Path


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "server.pid"


def _read_pid(state_dir: Path) -> tuple[int, int] | None:
    try:
        pid, port = _pid_file(state_dir).read_text().split()
        return int(pid), int(port)
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our own child, and it has exited: reap it
    except ChildProcessError:
        pass  # started by another process: the signal check below decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str, timeout: float) -> bool:
    """Whether the server answers an API request. It listens before it has restored its state, and a
    connection made meanwhile waits in the backlog: the probe waits for the answer, not retries."""
    try:
        with urllib.request.urlopen(f"{url}/_localcloud/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def status(state_dir: Path | None = None) -> Status:
    state_dir = state_dir or config.state_dir()
    found = _read_pid(state_dir)
    if not found or not _alive(found[0]):
        return Status(False, None, None, state_dir)
    return Status(True, found[0], f"http://127.0.0.1:{found[1]}", state_dir)


def start(state_dir: Path | None = None, port: int | None = None, timeout: float = 20.0) -> Status:
    """Start in the background (or return the running one); raises with the log tail if it fails."""
    state_dir = state_dir or config.state_dir()
    current = status(state_dir)
    if current.running:
        return current
    state_dir.mkdir(parents=True, exist_ok=True)
    port = port or config.port()
    log_path = state_dir / "server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.core.server", "--state-dir", str(state_dir), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(config.REPO_ROOT),
        )
    _pid_file(state_dir).write_text(f"{process.pid} {port}\n")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(
                f"the local cloud exited during start-up (port {port} in use? set LOCALCLOUD_PORT):\n" + "\n".join(tail)
            )
        if _answers(url, max(0.1, deadline - time.monotonic())):
            return Status(True, process.pid, url, state_dir)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the local cloud did not answer on {url} within {timeout:.0f} s; see {log_path}")


def stop(state_dir: Path | None = None, timeout: float = 20.0) -> bool:
    """Stop gracefully (SIGTERM), then forcefully. Returns False if it was not running."""
    current = status(state_dir)
    if not current.running:
        return False
    os.kill(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(current.pid):
        time.sleep(0.05)
    if _alive(current.pid):
        os.kill(current.pid, signal.SIGKILL)
    _pid_file(current.state_dir).unlink(missing_ok=True)
    return True
