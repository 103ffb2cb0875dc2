"""The model server's worker processes: one unix socket each, shared load, replaced when they die."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.core import http11
from localcloud.services.sagemaker.serving import model_server
from localcloud.services.sagemaker.serving.proxy import Upstream

REPO = Path(__file__).resolve().parents[2]

# Answers with the pid of the worker that served the request; "slow" holds the answer a moment so
# that requests overlap.
PID_SCRIPT = textwrap.dedent(
    """
    import json, os, time

    def model_fn(model_dir):
        return "no model needed"

    def transform_fn(model, body, content_type, accept):
        if body in (b"slow", "slow"):  # str for JSON and CSV, as the container decodes them
            time.sleep(0.5)
        return json.dumps({"pid": os.getpid()}), "application/json"
    """
)


class RunningServer:
    def __init__(self, folder: Path, workers: str):
        (folder / "code").mkdir(parents=True)
        (folder / "code" / "pid.py").write_text(PID_SCRIPT)
        self.folder = folder
        self.socket_file = folder / "sockets"
        self.log = open(folder / "server.log", "w+b")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SAGEMAKER_PROGRAM": "pid.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": str(folder / "code"),
            model_server.WORKERS_VARIABLE: workers,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.services.sagemaker.serving.model_server", "--model-dir", str(folder)]
            + ["--socket-file", str(self.socket_file)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def names(self) -> list[str]:
        deadline = time.monotonic() + 30
        while not self.socket_file.exists():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "the model server wrote no socket file"
            time.sleep(0.02)
        return self.socket_file.read_text().split()

    def sockets(self) -> list[Path]:
        """Where the workers listen: beside the socket file."""
        return [self.folder / name for name in self.names()]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def start_server(tmp_path):
    started: list[RunningServer] = []

    def start(workers: str) -> RunningServer:
        server = RunningServer(tmp_path / f"server{len(started)}", workers)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def pid_at(address: Path, body: bytes = b"1", timeout: float = 5) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(address))
        answer = http11.ClientConnection(sock).exchange("POST", "/invocations", {"Content-Type": "text/csv"}, body)
    assert answer.status == 200
    return json.loads(answer.body)["pid"]


def answers(address: Path) -> bool:
    try:
        pid_at(address, timeout=1)
        return True
    except OSError:
        return False


def test_each_worker_is_its_own_process_on_its_own_socket(start_server):
    server = start_server("2")
    sockets = server.sockets()
    assert [path.name for path in sockets] == ["worker-0.sock", "worker-1.sock"]
    assert all(path.is_socket() for path in sockets)
    pids = {pid_at(path) for path in sockets}
    assert len(pids) == 2
    assert server.process.pid not in pids, "the supervisor only watches its workers"


def test_concurrent_invocations_through_the_proxy_run_in_different_workers(start_server):
    server = start_server("2")
    upstream = Upstream(server.folder, server.names())
    try:
        with ThreadPoolExecutor(2) as pool:
            answers_ = list(pool.map(lambda _: upstream.post("/invocations", b"slow", {}), range(2)))
        assert len({json.loads(answer.body)["pid"] for answer in answers_}) == 2
    finally:
        upstream.close()


def test_a_worker_that_dies_is_replaced_on_the_same_socket(start_server):
    server = start_server("2")
    address = server.sockets()[0]
    first = pid_at(address)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            second = pid_at(address, timeout=1)
            if second != first:
                break
        except OSError:
            time.sleep(0.05)
    else:
        pytest.fail(f"no worker answered on {address} after its worker was killed:\n{server.output()}")
    assert f"model server worker {first} on socket {address.name} exited" in server.output()


def test_workers_end_with_their_supervisor(start_server):
    server = start_server("2")
    sockets = server.sockets()
    assert all(answers(path) for path in sockets)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    deadline = time.monotonic() + 10
    while any(answers(path) for path in sockets) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(answers(path) for path in sockets), "a worker outlived the model server"


def test_a_single_worker_serves_in_the_server_process_itself(start_server):
    server = start_server("1")
    (address,) = server.sockets()
    assert pid_at(address) == server.process.pid


def test_a_bad_worker_count_is_the_reason_the_server_gives(start_server):
    server = start_server("two")
    assert server.process.wait(timeout=30) == 1
    assert "ERROR: SAGEMAKER_MODEL_SERVER_WORKERS must be a whole number of at least 1, got 'two'" in server.output()


def test_worker_count_defaults_to_the_cpus_at_most_four():
    assert model_server.worker_count({}) == min(len(os.sched_getaffinity(0)), 4)
    assert model_server.worker_count({model_server.WORKERS_VARIABLE: " 6 "}) == 6
    with pytest.raises(ValueError, match="got '0'"):
        model_server.worker_count({model_server.WORKERS_VARIABLE: "0"})
