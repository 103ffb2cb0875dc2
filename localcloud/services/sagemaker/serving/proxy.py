"""Forwarding invocations to a model server over a few reused keep-alive connections.

The model server runs in a network namespace of its own, so its workers listen on unix sockets in
the server's folder, which both sides see.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from localcloud.core import http11
from localcloud.services.sagemaker.serving.unix import SocketFolder

INVOCATION_TIMEOUT_SECONDS = 60.0  # SageMaker's own limit for a real-time invocation
_RNG = random.Random()
FORWARDED_HEADERS = ("content-type", "accept", "x-amzn-sagemaker-custom-attributes")


class UpstreamUnavailable(Exception):
    """The model server did not answer (crashed, or too slow); the message says which."""


@dataclass
class UpstreamResponse:
    status: int
    body: bytes
    content_type: str
    custom_attributes: str | None


class _Connection:
    """One kept-alive connection to a worker's unix socket."""

    def __init__(self, address: str, timeout: float):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.http = http11.ClientConnection(self.sock)

    def exchange(
        self, path: str, body: bytes, headers: dict[str, str], method: str = "POST"
    ) -> tuple[int, dict[str, str], bytes, bool]:
        answer = self.http.exchange(method, path, headers, body)
        return answer.status, answer.headers, answer.body, answer.keep_alive

    def close(self) -> None:
        self.sock.close()


class _Worker:
    """One worker process of a model server: its socket, idle connections and requests in flight."""

    def __init__(self, name: str):
        self.name = name
        self.idle: list[_Connection] = []
        self.in_flight = 0


class Upstream:
    """One model server's workers and their idle connections.

    Each invocation goes to the worker with the fewest requests in flight (SageMaker routes between
    instances the same way with ``LEAST_OUTSTANDING_REQUESTS``), so concurrent invocations use the
    server's worker processes side by side.
    """

    def __init__(self, folder: Path, sockets: Sequence[str], timeout: float = INVOCATION_TIMEOUT_SECONDS):
        if not sockets:
            raise ValueError("a model server needs at least one worker socket")
        self.timeout = timeout
        self._folder = SocketFolder(folder)
        self._workers = [_Worker(name) for name in sockets]
        self._lock = threading.Lock()

    def where(self, worker: _Worker) -> Path:
        return self._folder.path / worker.name

    def _connect(self, worker: _Worker, timeout: float | None = None) -> _Connection:
        """Connect under the lock: once closed, the folder's descriptor number may name another folder."""
        with self._lock:
            if self._folder.fd < 0:
                raise ConnectionRefusedError("the model server was stopped")
            return _Connection(self._folder.address(worker.name), timeout or self.timeout)

    def _take(self) -> tuple[_Worker, _Connection | None]:
        with self._lock:
            worker = min(self._workers, key=lambda w: (w.in_flight, not w.idle))
            worker.in_flight += 1
            return worker, worker.idle.pop() if worker.idle else None

    def _give_back(self, worker: _Worker, connection: _Connection | None) -> None:
        with self._lock:
            worker.in_flight -= 1
            if connection is not None:
                worker.idle.append(connection)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> UpstreamResponse:
        """POST with a pooled connection; a stale pooled connection is retried once on a fresh one."""
        worker, connection = self._take()
        kept: _Connection | None = None
        try:
            status, response_headers, data, kept = self._exchange(worker, connection, path, body, headers)
        finally:
            self._give_back(worker, kept)
        return UpstreamResponse(
            status,
            data,
            response_headers.get("content-type", "application/octet-stream"),
            response_headers.get("x-amzn-sagemaker-custom-attributes"),
        )

    def _exchange(
        self, worker: _Worker, connection: _Connection | None, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, _Connection | None]:
        """Status, headers, body, and the connection if it may be reused."""
        reused = connection is not None
        while True:
            if connection is None:
                try:
                    connection = self._connect(worker)
                except OSError as error:
                    raise UpstreamUnavailable(
                        f"cannot connect to the model server at {self.where(worker)}: {error}"
                    ) from None
            try:
                status, response_headers, data, keep_alive = connection.exchange(path, body, headers)
            except TimeoutError:
                connection.close()
                raise UpstreamUnavailable(f"the model server did not answer within {self.timeout:.0f} s") from None
            except (http11.BadRequest, OSError) as error:
                connection.close()
                if reused:
                    reused, connection = False, None
                    continue
                raise UpstreamUnavailable(
                    f"the model server at {self.where(worker)} dropped the request: {error!r}"
                ) from None
            if not keep_alive:
                connection.close()
                connection = None
            return status, response_headers, data, connection

    def ping(self, timeout: float = 2.0) -> bool:
        """True once every worker answers ``GET /ping`` with 200."""
        return all(self._ping(worker, timeout) for worker in self._workers)

    def _ping(self, worker: _Worker, timeout: float) -> bool:
        try:
            connection = self._connect(worker, timeout)
        except OSError:
            return False
        try:
            return connection.exchange("/ping", b"", {}, method="GET")[0] == 200
        except (OSError, http11.BadRequest):
            return False
        finally:
            connection.close()

    def close(self) -> None:
        with self._lock:
            idle = [connection for worker in self._workers for connection in worker.idle]
            for worker in self._workers:
                worker.idle = []
            self._folder.close()
        for connection in idle:
            connection.close()


def forwarded_headers(request_headers: dict[str, str]) -> dict[str, str]:
    """The request headers a model server sees (names as the client sent them, lower-cased)."""
    return {name: request_headers[name] for name in FORWARDED_HEADERS if name in request_headers}


def choose_variant(weights: Sequence[tuple[str, float]], rng: random.Random | None = None) -> str:
    """Pick a variant in proportion to its weight (all-zero weights: evenly)."""
    rng = rng or _RNG
    names = [name for name, _ in weights]
    values = [max(weight, 0.0) for _, weight in weights]
    if len(names) == 1:
        return names[0]
    if sum(values) <= 0:
        return rng.choice(names)
    return rng.choices(names, weights=values)[0]
