"""Model server processes: started in the sandbox on the Python and libraries of the model's image,
watched until ``/ping`` answers, stopped, and recorded by pid so that the next run of the local cloud
can clear servers a crash left behind.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from localcloud import PACKAGE_DIR
from localcloud.core import sandbox
from localcloud.services.sagemaker import images, job_installs
from localcloud.services.sagemaker.serving.artifacts import DeploymentError
from localcloud.services.sagemaker.serving.proxy import Upstream
from localcloud.services.sagemaker.serving.unix import SocketFolder

PACKAGE_ROOT = PACKAGE_DIR.parent  # the folder holding the localcloud package
SERVER_MODULE = "localcloud.services.sagemaker.serving.model_server"
SOCKET_FILE = "server-sockets"  # the workers' socket names; the sockets lie beside it
STARTUP_TIMEOUT_SECONDS = 120.0


class ServerFailed(Exception):
    """The model server exited or never became healthy; the message says why."""


class _Launcher:
    """Starts every server from one thread that lives as long as the process.

    bubblewrap's ``--die-with-parent`` uses PR_SET_PDEATHSIG, which fires when the *thread* that
    started it ends: a server started from a request thread would die with that request.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, job: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="model-server-launcher", daemon=True)
                self._thread.start()
        future: Future = Future()
        self._jobs.put((job, future))
        return future.result()

    def _run(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as error:  # noqa: BLE001 - handed back to the caller
                future.set_exception(error)


LAUNCHER = _Launcher()


def _last_log_line(log_path: Path) -> str:
    """The line that best explains a failure: the last ``ERROR:`` line, else the last line."""
    try:
        with open(log_path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 16384))
            lines = [line.strip() for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("ERROR:"):
            return line[len("ERROR:") :].strip()
    return lines[-1] if lines else ""


class ModelServer:
    """One running model server (one production variant of one endpoint)."""

    def __init__(self, variant: str, folder: Path, process: subprocess.Popen, record: Path):
        self.variant = variant
        self.folder = folder
        self.process = process
        self.record = record
        self.upstream: Upstream | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def failure_reason(self) -> str:
        line = _last_log_line(self.log_path)
        code = self.process.poll()
        status = f"exited with code {code}" if code is not None else "is not answering"
        return f"the model server of variant {self.variant} {status}" + (f": {line}" if line else "")

    def wait_ready(
        self, timeout: float = STARTUP_TIMEOUT_SECONDS, cancelled: Callable[[], bool] = lambda: False
    ) -> None:
        """Block until ``GET /ping`` answers 200; raise ServerFailed if it exits or times out."""
        socket_file = self.folder / "ml" / SOCKET_FILE
        deadline = time.monotonic() + timeout
        delay = 0.01
        while time.monotonic() < deadline:
            if cancelled():
                raise ServerFailed("cancelled")
            if self.process.poll() is not None:
                raise ServerFailed(self.failure_reason())
            if self.upstream is None and socket_file.exists():
                self.upstream = Upstream(socket_file.parent, socket_file.read_text().split())
            if self.upstream is not None and self.upstream.ping():
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        raise ServerFailed(
            f"the model server of variant {self.variant} did not answer /ping within {timeout:.0f} s; "
            f"last log line: {_last_log_line(self.log_path) or '(none)'}"
        )

    def stop(self) -> None:
        """Kill the server's process group and forget its pid; its log stays."""
        if self.upstream is not None:
            self.upstream.close()
        _kill_group(self.process.pid)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _wait_group_gone(self.process.pid)
        _wait_sockets_closed(self.folder / "ml")
        self.record.unlink(missing_ok=True)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # bwrap's own session; the sandbox's processes die with it
    except (ProcessLookupError, PermissionError):
        pass


def _group_running(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: they hold no port, and the
    sandbox's inner process is reparented to the machine's init once bwrap is killed, which may take
    seconds to reap it (or never, as the first process of many containers)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                state, _, group = stat.read().rpartition(b")")[2].split()[:3]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(group) == pgid and state != b"Z":
            return True
    return False


def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """Return once no process of the group is left running, so nothing answers once stop() returns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_running(pgid):
        time.sleep(0.005)


def _wait_sockets_closed(ml: Path, timeout: float = 5.0) -> None:
    """Return once no worker socket accepts a connection: the sandbox's processes, in a session of
    their own, die just after bwrap (its pid namespace ends with it)."""
    socket_file = ml / SOCKET_FILE
    try:
        names = socket_file.read_text().split()
        folder = SocketFolder(ml)
    except OSError:
        return
    deadline = time.monotonic() + timeout
    try:
        for name in names:
            while time.monotonic() < deadline and _accepts(folder.address(name)):
                time.sleep(0.005)
    finally:
        folder.close()


def _accepts(address: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(address)
            return True
        except OSError:
            return False


def image_environment(image: str, log_path: Path) -> images.ImageEnvironment:
    """The environment of the model's image, built on first use with its progress in the server's log."""
    with open(log_path, "a") as log:

        def on_line(line: str) -> None:
            log.write(line + "\n")
            log.flush()

        try:
            return images.environment_for(image, on_line, "model's image")
        except images.ImageNotSupported as error:
            raise DeploymentError(str(error)) from None
        except (images.InterpreterMissing, images.ImageUnavailable) as error:
            on_line(f"ERROR: {error}")
            raise DeploymentError(str(error)) from None


def start(
    folder: Path,
    variant: str,
    environment: dict[str, str],
    records: Path,
    isolated: bool = False,
    image: str = "",
    niceness: int = 0,
) -> ModelServer:
    """Start the model server for the model laid out in ``folder/ml`` (mounted at /opt/ml), on ``image``'s
    Python and libraries (DeploymentError if the local cloud cannot run it).

    ``isolated``: the model's ``EnableNetworkIsolation``, no network at all (the proxy still reaches
    the workers: their sockets are files of the folder); ``niceness``: how much nicer than the local
    cloud the server starts (see startup_priority.py). Its pip (``code/requirements.txt``) has the
    host pip's index and certificate settings, as a job's has.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ml" / SOCKET_FILE).unlink(missing_ok=True)
    built = image_environment(image, folder / "server.log")
    runtime = sandbox.Runtime(str(built.bin_dir), str(built.interpreter), tuple(built.mounts()))
    pip = job_installs.host_pip_settings()
    env = {
        **pip,
        **environment,
        "PYTHONPATH": f"{PACKAGE_ROOT}:{built.server_packages}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    argv = ["python3", "-m", SERVER_MODULE, "--socket-file", f"/opt/ml/{SOCKET_FILE}"]
    read_only = job_installs.paths_named(pip)
    process = LAUNCHER.call(
        lambda: sandbox.start(
            folder / "ml",
            argv,
            env,
            folder / "server.log",
            isolated=isolated,
            package=True,
            read_only=read_only,
            runtime=runtime,
            niceness=niceness,
        )
    )
    records.mkdir(parents=True, exist_ok=True)
    record = records / f"{uuid.uuid4().hex}.json"
    record.write_text(json.dumps({"pid": process.pid, "folder": str(folder), "variant": variant}))
    return ModelServer(variant, folder, process, record)


def _is_our_server(pid: int, folder: str) -> bool:
    """Guard against pid reuse: only a bwrap whose command line names the server's folder."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(argv) and argv[0].endswith(b"bwrap") and any(folder.encode() in arg for arg in argv)


def clear_stale(records: Path) -> int:
    """Kill servers recorded by an earlier run of the local cloud (after ``kill -9``); returns how many."""
    killed = 0
    for record in sorted(records.glob("*.json")) if records.is_dir() else []:
        try:
            entry = json.loads(record.read_text())
            if _is_our_server(int(entry["pid"]), entry["folder"]):
                _kill_group(int(entry["pid"]))
                _wait_group_gone(int(entry["pid"]))
                killed += 1
        except (OSError, ValueError, KeyError):
            pass
        record.unlink(missing_ok=True)
    return killed
