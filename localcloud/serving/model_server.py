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
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from localcloud.serving.handlers import JSON, Handlers, ScriptError

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_PORT_FILE = "/opt/ml/server-port"


class ModelHTTPServer(ThreadingHTTPServer):
    """One thread per keep-alive connection; the local cloud reuses a few connections."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handlers: Handlers, model: Any, default_accept: str,
                 default_content_type: str):
        super().__init__(address, InvocationHandler)
        self.handlers = handlers
        self.model = model
        self.default_accept = default_accept
        self.default_content_type = default_content_type


class InvocationHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: no connection set-up per request
    disable_nagle_algorithm = True  # small responses go out at once
    server: ModelHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """No access log: an endpoint can take thousands of requests a second."""

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        if self.path == "/ping":
            self._reply(HTTPStatus.OK, b"")
        else:
            self._reply(HTTPStatus.NOT_FOUND, f"no such path {self.path}: use GET /ping or POST /invocations".encode())

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path != "/invocations":
            self._reply(HTTPStatus.NOT_FOUND, f"no such path {self.path}: use POST /invocations".encode())
            return
        server = self.server
        content_type = self.headers.get("Content-Type") or server.default_content_type
        accept = self.headers.get("Accept") or "*/*"
        if accept.strip() == "*/*":
            accept = server.default_accept
        try:
            data, response_type = server.handlers.invoke(server.model, body, content_type, accept)
        except ValueError as error:  # the script's way of saying the request is wrong
            print(f"invocation rejected: {error}", flush=True)
            self._reply(HTTPStatus.BAD_REQUEST, str(error).encode())
            return
        except Exception as error:  # noqa: BLE001 - any script failure is the caller's ModelError
            traceback.print_exc()
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(error).__name__}: {error}".encode())
            return
        self._reply(HTTPStatus.OK, data, response_type)


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
        ("127.0.0.1", args.port), handlers, model,
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
