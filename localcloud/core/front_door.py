"""The local cloud's HTTP server: keep-alive for our own REST routes, werkzeug for the rest.

werkzeug's server closes every connection after one response (it drains the socket afterwards,
which would swallow the next request on a kept-alive one), so every call pays a TCP handshake and a
new thread. That is noise for a ``CreateBucket`` but most of the cost of an ``InvokeEndpoint`` on
a small model. So each connection is read here first: a request for one of the gateway's own REST
routes (endpoint invocations, CodeCommit push hooks, custom resource responses) is answered here
and the connection stays open for the next one; anything else goes to werkzeug and moto exactly as
before, with the request line we already read replayed to it.
"""

from __future__ import annotations

import io
import socket
import socketserver
import threading

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import ThreadedWSGIServer

from localcloud.core import http11
from localcloud.core.gateway import Gateway

IDLE_CONNECTION_SECONDS = 120.0  # a kept-alive connection nobody uses is closed after this


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a log line per request (pipelines poll a lot)."""

    protocol_version = "HTTP/1.1"  # what werkzeug picks for a threaded server (it still closes)

    def log_request(self, code="-", size="-"):  # noqa: ARG002 - werkzeug's signature
        if isinstance(code, int) and code >= 500:
            super().log_request(code, size)


class ReplayingRequestHandler(QuietRequestHandler):
    """werkzeug's handler for a connection whose first bytes were already read by the front door."""

    def __init__(self, request, client_address, server, rfile: io.BufferedIOBase):
        self._replayed = rfile
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile = self._replayed


class FrontDoorHandler(socketserver.StreamRequestHandler):
    """One connection: our routes in a keep-alive loop, the first other request handed to werkzeug."""

    disable_nagle_algorithm = True  # small responses go out at once
    timeout = IDLE_CONNECTION_SECONDS
    server: FrontDoorServer

    def handle(self) -> None:
        self.server.track(self.connection, True)
        try:
            self._serve()
        finally:
            self.server.track(self.connection, False)

    def _serve(self) -> None:
        gateway = self.server.app
        while True:
            http11.ack_promptly(self.connection)
            try:
                found = http11.read_request_line(self.rfile)
                if found is None:
                    return
                line, (method, target, version) = found
                claimed = gateway.claim(method, target.split("?", 1)[0])
                if claimed is None:
                    self._hand_over(line)
                    return
                request = http11.read_rest(self.rfile, self.wfile, method, target, version)
            except http11.BadRequest as error:
                body = f"{error}\n".encode()
                http11.write_response(self.wfile, error.status, body, [("Content-Type", "text/plain")], False)
                return
            except (ConnectionError, TimeoutError):
                return
            response = gateway.serve_claimed(claimed, method, target, request.headers, request.body)
            try:
                http11.write_response(
                    self.wfile,
                    response.status_code,
                    response.get_data(),
                    response.headers.to_wsgi_list(),
                    request.keep_alive,
                    head_only=method == "HEAD",
                )
            except (ConnectionError, TimeoutError):
                return
            if not request.keep_alive:
                return

    def _hand_over(self, consumed: bytes) -> None:
        rfile = io.BufferedReader(http11.Replay(consumed, self.rfile))
        ReplayingRequestHandler(self.request, self.client_address, self.server, rfile)


class FrontDoorServer(ThreadedWSGIServer):
    """werkzeug's threaded server with the front door reading each connection first."""

    def __init__(self, host: str, port: int, gateway: Gateway):
        super().__init__(host, port, gateway, handler=FrontDoorHandler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(connection)

    def server_close(self) -> None:
        """Also end kept-alive connections, whose threads would otherwise wait for their clients."""
        super().server_close()
        with self._open_lock:
            open_connections, self._open = list(self._open), set()
        for connection in open_connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
