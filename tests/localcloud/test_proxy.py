"""Forwarding to a model server: pooled connections, a stale one retried, a dead server named."""

from __future__ import annotations

import os
import socket
import socketserver
import threading
from pathlib import Path

import pytest

from localcloud.core import http11
from localcloud.services.sagemaker.serving.proxy import Upstream, UpstreamUnavailable


class StubModelServer(socketserver.ThreadingUnixStreamServer):
    """Echoes the body; counts connections; can hang up after each answer like a server that idles out."""

    daemon_threads = True

    def __init__(self, folder: Path, hang_up_after_answer: bool = False):
        self.folder, self.name = folder, "worker-0.sock"
        super().__init__(str(folder / self.name), StubHandler)
        self.connections = 0
        self.hang_up_after_answer = hang_up_after_answer
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class StubHandler(socketserver.BaseRequestHandler):
    server: StubModelServer

    def handle(self) -> None:
        self.server.connections += 1
        connection = http11.ServerConnection(self.request)
        while (request := connection.next_request()) is not None:
            body = connection.request_body(request)
            headers = [("Content-Type", "text/plain"), ("X-Amzn-SageMaker-Custom-Attributes", "seen")]
            connection.respond(request, 200, headers, b"echo:" + body)
            connection.finish(request)
            if self.server.hang_up_after_answer:
                self.request.shutdown(socket.SHUT_RDWR)
                return


def test_requests_reuse_one_connection_and_carry_large_bodies(tmp_path):
    stub = StubModelServer(tmp_path)
    upstream = Upstream(tmp_path, [stub.name])
    try:
        big = b"x" * (6 * 1024 * 1024)  # larger than one socket write: must still go out whole
        for body in (b"1,2", big, b"3,4"):
            answer = upstream.post("/invocations", body, {"content-type": "text/csv"})
            assert (answer.status, answer.body) == (200, b"echo:" + body)
        assert answer.content_type == "text/plain" and answer.custom_attributes == "seen"
        assert stub.connections == 1
    finally:
        upstream.close()
        stub.stop()


def test_a_connection_the_server_dropped_is_retried_on_a_fresh_one(tmp_path):
    stub = StubModelServer(tmp_path, hang_up_after_answer=True)
    upstream = Upstream(tmp_path, [stub.name])
    try:
        assert upstream.post("/invocations", b"first", {}).body == b"echo:first"
        assert upstream.post("/invocations", b"second", {}).body == b"echo:second"
        assert stub.connections == 2
    finally:
        upstream.close()
        stub.stop()


def test_a_server_that_is_gone_is_named_in_the_error(tmp_path):
    stub = StubModelServer(tmp_path)
    stub.stop()
    with pytest.raises(UpstreamUnavailable, match=f"cannot connect to the model server at {tmp_path / stub.name}"):
        Upstream(tmp_path, [stub.name], timeout=2).post("/invocations", b"1", {})


def test_sockets_deeper_than_an_address_can_hold_are_reached(tmp_path):
    """A unix socket address holds 107 bytes; a state folder nested deeper must still work."""
    deep = tmp_path.joinpath(*["a-long-folder-name-of-an-endpoint"] * 4)
    deep.mkdir(parents=True)
    assert len(str(deep / "worker-0.sock")) > 108
    cwd = os.getcwd()
    os.chdir(deep)  # only to bind the stub there: a relative address is short
    try:
        stub = StubModelServer(Path("."))
    finally:
        os.chdir(cwd)
    upstream = Upstream(deep, [stub.name])
    try:
        assert upstream.post("/invocations", b"deep", {}).body == b"echo:deep"
        assert upstream.ping()
    finally:
        upstream.close()
        stub.stop()


def test_a_closed_upstream_connects_nowhere(tmp_path):
    stub = StubModelServer(tmp_path)
    upstream = Upstream(tmp_path, [stub.name], timeout=2)
    upstream.close()
    try:
        with pytest.raises(UpstreamUnavailable, match="stopped"):
            upstream.post("/invocations", b"1", {})
    finally:
        stub.stop()
