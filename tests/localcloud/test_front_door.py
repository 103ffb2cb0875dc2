"""The front door: our own REST routes on kept-alive connections, everything else still moto's."""

from __future__ import annotations

import io
import json
import socket
import time

import pytest
from werkzeug.wrappers import Response

from localcloud.core import http11
from tests.localcloud.signing import signed_headers

ECHO_PATH = "/test-front-door/(?P<name>[a-z]+)/echo"


@pytest.fixture(scope="module")
def echo(cloud):
    """A route of our own that echoes what the handler saw, the way endpoint invocations are routed."""

    def answer(call):
        seen = {"name": call.match["name"], "body": call.raw.decode(), "region": call.region, "query": call.query}
        seen["content_type"] = call.headers.get("content-type")
        return Response(json.dumps(seen), mimetype="application/json", headers={"X-Seen-By": "echo"})

    cloud.gateway.route("POST", ECHO_PATH)(answer)
    return cloud


def connect(cloud) -> tuple[socket.socket, io.BufferedReader]:
    sock = socket.create_connection((cloud.host, cloud.port), timeout=10)
    return sock, sock.makefile("rb")


def request(cloud, path: str, body: bytes = b"", method: str = "POST", extra: str = "", service="sagemaker") -> bytes:
    headers = signed_headers(cloud, method, path, body, {"Content-Type": "text/csv"}, service)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{method} {path} HTTP/1.1\r\n{head}{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_our_routes_keep_the_connection_open_for_the_next_request(echo):
    sock, rfile = connect(echo)
    with sock, rfile:
        for body in (b"1,2", b"3,4", b"5,6"):
            sock.sendall(request(echo, "/test-front-door/abc/echo?x=1", body))
            status, headers, data, keep_alive = http11.read_response(rfile)
            assert status == 200 and keep_alive
            assert headers["x-seen-by"] == "echo"
            seen = json.loads(data)
            assert seen == {
                "name": "abc",
                "body": body.decode(),
                "region": "us-east-1",
                "query": {"x": ["1"]},
                "content_type": "text/csv",
            }


def test_a_moto_request_after_ours_on_the_same_connection_reaches_moto(echo, aws):
    aws("s3").create_bucket(Bucket="front-door")
    sock, rfile = connect(echo)
    with sock, rfile:
        sock.sendall(request(echo, "/test-front-door/abc/echo", b"first"))
        assert http11.read_response(rfile)[0] == 200
        sock.sendall(request(echo, "/front-door", method="GET", service="s3"))  # S3 ListObjects, path style
        status, headers, data, keep_alive = http11.read_response(rfile)
    assert status == 200, data
    assert b"<ListBucketResult" in data and b"<Name>front-door</Name>" in data
    assert not keep_alive  # werkzeug answers it, and closes as it always has


def test_a_chunked_body_and_expect_continue_are_read_whole(echo):
    sock, rfile = connect(echo)
    with sock, rfile:
        path = "/test-front-door/chunk/echo"
        headers = signed_headers(echo, "POST", path, b"abcdefg", {}, "sagemaker")
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()
        sock.sendall(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + head + b"Transfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
        )
        assert rfile.readline() == b"HTTP/1.1 100 Continue\r\n"
        rfile.readline()
        status, _, data, _ = http11.read_response(rfile)
    assert status == 200 and json.loads(data)["body"] == "abcdefg"


def test_a_malformed_request_line_gets_a_400_and_the_connection_closes(echo):
    sock, rfile = connect(echo)
    with sock, rfile:
        sock.sendall(b"NONSENSE\r\n\r\n")
        status, _, data, keep_alive = http11.read_response(rfile)
        assert status == 400 and b"malformed request line" in data and not keep_alive
        assert rfile.read() == b""


def test_connection_close_from_the_client_is_honoured(echo):
    sock, rfile = connect(echo)
    with sock, rfile:
        sock.sendall(request(echo, "/test-front-door/abc/echo", b"x", extra="Connection: close\r\n"))
        assert http11.read_response(rfile)[3] is False
        assert rfile.read() == b""


def test_stopping_the_server_ends_idle_kept_alive_connections(tmp_path):
    from localcloud.core.server import LocalCloud
    from tests.localcloud.conftest import reset_moto

    reset_moto()
    cloud = LocalCloud(tmp_path).start()
    cloud.gateway.route("POST", ECHO_PATH)(lambda call: Response("ok"))
    sock, rfile = connect(cloud)
    try:
        sock.sendall(request(cloud, "/test-front-door/abc/echo", b"x"))
        assert http11.read_response(rfile)[0] == 200
        started = time.monotonic()
        cloud.stop()
        assert rfile.read() == b""  # the server hung up rather than leave a thread waiting
        assert time.monotonic() - started < 8
    finally:
        sock.close()
        rfile.close()
        reset_moto()


def test_replay_yields_the_consumed_bytes_then_the_rest():
    rest = io.BufferedReader(io.BytesIO(b"Host: x\r\n\r\nbody"))
    replayed = io.BufferedReader(http11.Replay(b"GET / HTTP/1.1\r\n", rest))
    assert replayed.readline() == b"GET / HTTP/1.1\r\n"
    assert replayed.read() == b"Host: x\r\n\r\nbody"
