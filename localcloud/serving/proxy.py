"""Forwarding invocations to a model server over a few reused keep-alive connections."""

from __future__ import annotations

import http.client
import random
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from localcloud import http11

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
    """One kept-alive TCP connection to a model server."""

    def __init__(self, host: str, port: int, timeout: float):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")

    def exchange(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, bool]:
        self.sock.sendall(http11.encode_request("POST", path, headers, body))
        return http11.read_response(self.rfile)

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


class Upstream:
    """One model server's address and its idle connections."""

    def __init__(self, host: str, port: int, timeout: float = INVOCATION_TIMEOUT_SECONDS):
        self.host, self.port, self.timeout = host, port, timeout
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> _Connection:
        return _Connection(self.host, self.port, self.timeout)

    def _take(self) -> tuple[_Connection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> UpstreamResponse:
        """POST with a pooled connection; a stale pooled connection is retried once on a fresh one."""
        try:
            connection, reused = self._take()
        except OSError as error:
            raise UpstreamUnavailable(
                f"cannot connect to the model server at {self.host}:{self.port}: {error}"
            ) from None
        while True:
            try:
                status, response_headers, data, keep_alive = connection.exchange(path, body, headers)
            except TimeoutError:
                connection.close()
                raise UpstreamUnavailable(f"the model server did not answer within {self.timeout:.0f} s") from None
            except (http11.BadRequest, OSError) as error:
                connection.close()
                if reused:
                    reused = False
                    try:
                        connection = self._connect()
                    except OSError as connect_error:
                        raise UpstreamUnavailable(f"the model server is not answering: {connect_error}") from None
                    continue
                raise UpstreamUnavailable(f"the model server dropped the request: {error!r}") from None
            break
        if keep_alive:
            with self._lock:
                self._idle.append(connection)
        else:
            connection.close()
        return UpstreamResponse(
            status,
            data,
            response_headers.get("content-type", "application/octet-stream"),
            response_headers.get("x-amzn-sagemaker-custom-attributes"),
        )

    def ping(self, timeout: float = 2.0) -> bool:
        try:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            connection.request("GET", "/ping")
            ok = connection.getresponse().status == 200
            connection.close()
            return ok
        except (OSError, http.client.HTTPException):
            return False

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
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
