"""Forwarding to a model server: pooled connections, a stale one retried, a dead server named."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from localcloud import http11
from localcloud.serving.proxy import Upstream, UpstreamUnavailable


class StubModelServer(socketserver.ThreadingTCPServer):
    """Echoes the body; counts connections; can hang up after each answer like a server that idles out."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, hang_up_after_answer: bool = False):
        super().__init__(("127.0.0.1", 0), StubHandler)
        self.connections = 0
        self.hang_up_after_answer = hang_up_after_answer
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class StubHandler(socketserver.StreamRequestHandler):
    server: StubModelServer

    def handle(self) -> None:
        self.server.connections += 1
        while (request := http11.read_request(self.rfile, self.wfile)) is not None:
            headers = [("Content-Type", "text/plain"), ("X-Amzn-SageMaker-Custom-Attributes", "seen")]
            http11.write_response(self.wfile, 200, b"echo:" + request.body, headers, keep_alive=True)
            if self.server.hang_up_after_answer:
                self.connection.shutdown(socket.SHUT_RDWR)
                return


def test_requests_reuse_one_connection_and_carry_large_bodies():
    stub = StubModelServer()
    upstream = Upstream("127.0.0.1", [stub.server_address[1]])
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


def test_a_connection_the_server_dropped_is_retried_on_a_fresh_one():
    stub = StubModelServer(hang_up_after_answer=True)
    upstream = Upstream("127.0.0.1", [stub.server_address[1]])
    try:
        assert upstream.post("/invocations", b"first", {}).body == b"echo:first"
        assert upstream.post("/invocations", b"second", {}).body == b"echo:second"
        assert stub.connections == 2
    finally:
        upstream.close()
        stub.stop()


def test_a_server_that_is_gone_is_named_in_the_error():
    stub = StubModelServer()
    port = stub.server_address[1]
    stub.stop()
    with pytest.raises(UpstreamUnavailable, match=f"cannot connect to the model server at 127.0.0.1:{port}"):
        Upstream("127.0.0.1", [port], timeout=2).post("/invocations", b"1", {})
