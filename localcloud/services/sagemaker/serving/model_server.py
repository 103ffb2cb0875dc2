"""The program an endpoint's variant runs: SageMaker's serving contract on unix sockets.

``GET /ping`` answers 200 once the model is loaded; ``POST /invocations`` runs the inference
script's handlers. It loads the model before it listens, so a server that listens is a server that
can serve, then writes its sockets' names to ``--socket-file`` for the local cloud to find. The
sockets sit beside that file, in the server's folder: the server has a network namespace of its
own, which the local cloud cannot reach by TCP, but it shares that folder. Startup failures
end with one ``ERROR:`` line (the endpoint's FailureReason) and a non-zero exit.

Like the scikit-learn serving container, it runs ``SAGEMAKER_MODEL_SERVER_WORKERS`` worker
processes (default: one per CPU, at most four here, where every endpoint shares one machine), so
that one variant uses more than one core. The workers are forked after the model is loaded and share
it; each listens on a socket of its own and the local cloud sends each invocation to the least busy.
A worker that dies is replaced.

Run inside the sandbox as ``python3 -m localcloud.services.sagemaker.serving.model_server``, on the
Python of the model's image (3.8 to 3.12): it and what it imports of localcloud keep to what all of
those have, with numpy from the image and httptools from the environment's own server folder.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socketserver
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localcloud.core import http11
from localcloud.services.sagemaker.serving import requirements
from localcloud.services.sagemaker.serving.handlers import ANY, JSON, Handlers, InvocationError, ScriptError
from localcloud.services.sagemaker.serving.unix import SocketFolder

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_SOCKET_FILE = "/opt/ml/server-sockets"
TEXT = "text/plain; charset=utf-8"
WORKERS_VARIABLE = "SAGEMAKER_MODEL_SERVER_WORKERS"
MAX_DEFAULT_WORKERS = 4


class ModelHTTPServer(socketserver.ThreadingUnixStreamServer):
    """One thread per keep-alive connection; the local cloud reuses a few connections."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        folder: SocketFolder,
        name: str,
        handlers: Handlers,
        model: Any,
        default_accept: str,
        default_content_type: str,
    ):
        address = folder.address(name)
        if os.path.lexists(address):
            os.unlink(address)  # left by a server of an earlier run in the same folder
        super().__init__(address, ConnectionHandler)
        self.name = name
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
        # As the container reads them: "ContentType" (other AWS services' spelling) or Content-Type,
        # else the default; a missing Accept or */* is the default Accept.
        content_type = headers.get("contenttype") or headers.get("content-type") or self.default_content_type
        accept = headers.get("accept")
        if not accept or accept == ANY:
            accept = self.default_accept
        try:
            data, response_type = self.handlers.invoke(self.model, body, content_type, accept)
        except InvocationError as error:  # the container's own 415 / 406
            print(f"invocation refused ({error.status}): {error}", flush=True)
            return error.status, error.body, JSON
        except Exception as error:  # noqa: BLE001 - whatever a script raises is a 500, as in the container
            traceback.print_exc()
            return 500, f"{type(error).__name__}: {error}".encode(), TEXT
        return 200, data, response_type


class ConnectionHandler(socketserver.BaseRequestHandler):
    """Serves one keep-alive connection: the local cloud reuses a few per model server."""

    server: ModelHTTPServer

    def handle(self) -> None:
        connection = http11.ServerConnection(self.request)
        try:
            while self._serve_one(connection):
                pass
        except (ConnectionError, TimeoutError):
            pass
        finally:
            connection.close()

    def _serve_one(self, connection: http11.ServerConnection) -> bool:
        try:
            request = connection.next_request()
            if request is None:
                return False
            body = connection.request_body(request)
        except http11.BadRequest as error:
            connection.refuse(error)
            return False
        path = request.target.decode("latin-1").split("?", 1)[0]
        status, data, content_type = self.server.answer(request.method, path, request.header_dict(), body)
        connection.respond(request, status, [("Content-Type", content_type)], data)
        return connection.finish(request)


def worker_count(environ: Mapping[str, str] = os.environ) -> int:
    """``SAGEMAKER_MODEL_SERVER_WORKERS``, else one per CPU this process may use (at most four)."""
    value = environ.get(WORKERS_VARIABLE, "").strip()
    if not value:
        return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{WORKERS_VARIABLE} must be a whole number of at least 1, got {value!r}: "
            "fix it in the model's Environment or leave it out for one worker per CPU"
        )
    return int(value)


def _write_sockets(socket_file: Path, names: list[str]) -> None:
    tmp = socket_file.with_name(socket_file.name + ".tmp")
    tmp.write_text(" ".join(names))
    os.replace(tmp, socket_file)


def _exit_code(status: int) -> int:
    """``os.waitstatus_to_exitcode``, which Python 3.8 (the 1.0-1 image's) lacks: a signal is negative."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _die_with_parent(supervisor: int) -> None:
    """Outside the sandbox nothing else would stop a worker whose supervisor was killed."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != supervisor:  # it died before the signal was armed
        os._exit(1)


def _serve(server: ModelHTTPServer) -> None:
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _fork_worker(server: ModelHTTPServer) -> int:
    supervisor = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _die_with_parent(supervisor)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _serve(server)
        except BaseException:  # noqa: BLE001 - a worker must never return into the supervisor's code
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def supervise(servers: list[ModelHTTPServer]) -> None:
    """Run one forked worker per listening server and replace any that dies, until stopped."""
    workers = {_fork_worker(server): server for server in servers}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            pid, status = os.wait()
            server = workers.pop(pid, None)
            if server is None:
                continue
            print(
                f"model server worker {pid} on socket {server.name} exited ({_exit_code(status)}); starting another",
                flush=True,
            )
            time.sleep(0.1)  # a worker that dies at once must not make this loop spin
            workers[_fork_worker(server)] = server
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a SageMaker model on unix sockets.")
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR)
    parser.add_argument(
        "--socket-file", type=Path, default=Path(DEFAULT_SOCKET_FILE), help="lists the sockets, made beside it"
    )
    args = parser.parse_args(argv)
    try:
        workers = worker_count()
    except ValueError as error:
        print(f"ERROR: {error}", flush=True)
        return 1
    try:
        requirements.install_for_serving(os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/ml/model/code"))
    except requirements.InstallFailed as error:
        print(f"ERROR: {error}", flush=True)
        return 1
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
    folder = SocketFolder(args.socket_file.parent)
    servers = [
        ModelHTTPServer(
            folder,
            f"worker-{index}.sock",
            handlers,
            model,
            default_accept=os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON),
            default_content_type=os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_CONTENT_TYPE", JSON),
        )
        for index in range(workers)
    ]
    names = [server.name for server in servers]
    _write_sockets(args.socket_file, names)
    print(f"model server listening on {', '.join(names)} in {folder.path}", flush=True)
    if workers == 1:
        _serve(servers[0])
    else:
        supervise(servers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
