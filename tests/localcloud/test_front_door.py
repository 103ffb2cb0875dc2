"""The front door: every request on a kept-alive connection, our own REST routes served there, the rest by moto."""

from __future__ import annotations

import http.client
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


def connect(cloud) -> tuple[socket.socket, http11.ClientConnection]:
    sock = socket.create_connection((cloud.host, cloud.port), timeout=10)
    return sock, http11.ClientConnection(sock)


def call(cloud, client, path: str, body: bytes = b"", method: str = "POST", extra=(), service="sagemaker"):
    headers = signed_headers(cloud, method, path, body, {"Content-Type": "text/csv"}, service)
    return client.exchange(method, path, [*headers.items(), *extra], body)


def answer_to(sock: socket.socket) -> http.client.HTTPResponse:
    """The next response on a connection we wrote to by hand (read by the standard library's parser)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.body = response.read()
    return response


def test_our_routes_keep_the_connection_open_for_the_next_request(echo):
    sock, client = connect(echo)
    with sock:
        for body in (b"1,2", b"3,4", b"5,6"):
            answer = call(echo, client, "/test-front-door/abc/echo?x=1", body)
            assert answer.status == 200 and answer.keep_alive
            assert answer.headers["x-seen-by"] == "echo"
            assert json.loads(answer.body) == {
                "name": "abc",
                "body": body.decode(),
                "region": "us-east-1",
                "query": {"x": ["1"]},
                "content_type": "text/csv",
            }


def test_moto_requests_share_the_kept_alive_connection_with_ours(echo, aws):
    aws("s3").create_bucket(Bucket="front-door")
    sock, client = connect(echo)
    with sock:
        assert call(echo, client, "/test-front-door/abc/echo", b"first").status == 200
        for _ in range(2):
            answer = call(echo, client, "/front-door", method="GET", service="s3")  # S3 ListObjects, path style
            assert answer.status == 200, answer.body
            assert b"<ListBucketResult" in answer.body and b"<Name>front-door</Name>" in answer.body
            assert answer.keep_alive
        deleted = call(echo, client, "/front-door/no-such-key", method="DELETE", service="s3")
        assert deleted.status == 204 and deleted.body == b"" and deleted.keep_alive  # no body, not even framing
        assert call(echo, client, "/test-front-door/abc/echo", b"last").status == 200


def test_a_chunked_body_and_expect_continue_are_read_whole(echo):
    sock, _ = connect(echo)
    with sock:
        path = "/test-front-door/chunk/echo"
        headers = signed_headers(echo, "POST", path, b"abcdefg", {}, "sagemaker")
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()
        sock.sendall(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + head + b"Transfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 ")  # asked for the body before it was sent
        sock.sendall(b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n")
        answer = answer_to(sock)
    assert answer.status == 200 and json.loads(answer.body)["body"] == "abcdefg"


def test_a_malformed_request_line_gets_a_400_and_the_connection_closes(echo):
    sock, _ = connect(echo)
    with sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        answer = answer_to(sock)
        assert answer.status == 400 and b"malformed" in answer.body and answer.will_close
        assert sock.recv(100) == b""


def test_connection_close_from_the_client_is_honoured(echo):
    sock, client = connect(echo)
    with sock:
        answer = call(echo, client, "/test-front-door/abc/echo", b"x", extra=[("Connection", "close")])
        assert answer.status == 200 and answer.keep_alive is False
        assert sock.recv(100) == b""


def test_stopping_the_server_ends_idle_kept_alive_connections(tmp_path):
    from localcloud.core.server import LocalCloud
    from tests.localcloud.conftest import reset_moto

    reset_moto()
    cloud = LocalCloud(tmp_path).start()
    cloud.gateway.route("POST", ECHO_PATH)(lambda call: Response("ok"))
    sock, client = connect(cloud)
    try:
        assert call(cloud, client, "/test-front-door/abc/echo", b"x").status == 200
        started = time.monotonic()
        cloud.stop()
        assert sock.recv(100) == b""  # the server hung up rather than leave a thread waiting
        assert time.monotonic() - started < 8
    finally:
        sock.close()
        reset_moto()
