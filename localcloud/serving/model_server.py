"""The program an endpoint's variant runs: SageMaker's serving contract on 127.0.0.1.

``GET /ping`` answers 200 once the model is loaded; ``POST /invocations`` runs the inference
script's handlers. It loads the model before it listens, so a server that listens is a server that
can serve, then writes its port to ``--port-file`` for the local cloud to find. Startup failures
end with one ``ERROR:`` line (the endpoint's FailureReason) and a non-zero exit.

Run inside the sandbox as ``python3 -m localcloud.serving.model_server``.
"""

from __future__ import annotations

import argparse
import os
import socketserver
import sys
import traceback
from http import HTTPStatus
from pathlib import Path
from typing import Any

from localcloud.serving.handlers import JSON, Handlers, ScriptError

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_PORT_FILE = "/opt/ml/server-port"
TEXT = "text/plain; charset=utf-8"
MAX_LINE = 65536
MAX_HEADERS = 100
REASONS = {status.value: status.phrase for status in HTTPStatus}


class ModelHTTPServer(socketserver.ThreadingTCPServer):
    """One thread per keep-alive connection; the local cloud reuses a few connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handlers: Handlers,
        model: Any,
        default_accept: str,
        default_content_type: str,
    ):
        super().__init__(address, ConnectionHandler)
        self.handlers = handlers
        self.model = model
        self.default_accept = default_accept
        self.default_content_type = default_content_type

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """The serving contract: status, body and content type for one request."""
        if path == "/ping" and method in ("GET", "HEAD"):
            return 200, b"", TEXT
        if path != "/invocations":
            return 404, f"no such path {path}: use GET /ping or POST /invocations".encode(), TEXT
        if method != "POST":
            return 405, b"use POST /invocations", TEXT
        content_type = headers.get("content-type") or self.default_content_type
        accept = headers.get("accept") or "*/*"
        if accept.strip() == "*/*":
            accept = self.default_accept
        try:
            data, response_type = self.handlers.invoke(self.model, body, content_type, accept)
        except ValueError as error:  # the script's way of saying the request is wrong
            print(f"invocation rejected: {error}", flush=True)
            return 400, str(error).encode(), TEXT
        except Exception as error:  # noqa: BLE001 - any script failure is the caller's ModelError
            traceback.print_exc()
            return 500, f"{type(error).__name__}: {error}".encode(), TEXT
        return 200, data, response_type


class BadRequest(Exception):
    """The bytes on the connection are not an HTTP/1.x request we can read."""


class ConnectionHandler(socketserver.StreamRequestHandler):
    """A small HTTP/1.1 reader and writer: just what the serving contract needs, kept lean because
    every invocation passes through it (the stdlib's http.server parses headers with email.parser).
    """

    disable_nagle_algorithm = True  # small responses go out at once
    server: ModelHTTPServer

    def handle(self) -> None:
        while True:
            try:
                request = self._read_request()
            except BadRequest as error:
                self._send(400, str(error).encode(), TEXT, keep_alive=False)
                return
            except (ConnectionError, TimeoutError):
                return
            if request is None:
                return
            method, path, headers, body, keep_alive = request
            status, data, content_type = self.server.answer(method, path, headers, body)
            try:
                self._send(status, b"" if method == "HEAD" else data, content_type, keep_alive)
            except (ConnectionError, TimeoutError):
                return
            if not keep_alive:
                return

    def _read_request(self) -> tuple[str, str, dict[str, str], bytes, bool] | None:
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # tolerated between requests
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            raise BadRequest(f"malformed request line {line[:80]!r}") from None
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            raw = self.rfile.readline(MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise BadRequest("too many headers")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            length = int(headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise ConnectionError("request body cut short")
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return method, target.split("?", 1)[0], headers, body, keep_alive

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size_line = self.rfile.readline(MAX_LINE + 1)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("malformed chunk size") from None
            if size == 0:
                while self.rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(MAX_LINE + 1)

    def _send(self, status: int, data: bytes, content_type: str, keep_alive: bool) -> None:
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        ).encode("latin-1")
        self.wfile.write(head + data)  # one write: no header/body split on the wire


def _write_port(port_file: Path, port: int) -> None:
    tmp = port_file.with_name(port_file.name + ".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, port_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a SageMaker model on 127.0.0.1.")
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, default=Path(DEFAULT_PORT_FILE))
    args = parser.parse_args(argv)
    try:
        handlers = Handlers.from_environment()
        model = handlers.model_fn(args.model_dir)
    except ScriptError as error:
        print(f"ERROR: {error}", flush=True)
        return 1
    except Exception as error:  # noqa: BLE001 - whatever model_fn raised is the reason to report
        traceback.print_exc()
        print(f"ERROR: loading the model failed: {type(error).__name__}: {error}", flush=True)
        return 1
    server = ModelHTTPServer(
        ("127.0.0.1", args.port),
        handlers,
        model,
        default_accept=os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON),
        default_content_type=os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_CONTENT_TYPE", JSON),
    )
    port = server.server_address[1]
    _write_port(args.port_file, port)
    print(f"model server listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
