"""The local cloud's HTTP server: every connection kept alive, httptools (llhttp) parsing.

Each connection has a thread, which reads requests with ``http11`` until the client closes
or idles out. A request for one of the gateway's own REST routes (endpoint invocations, CodeCommit
push hooks, custom resource responses) is read whole, bounded, and served through
``Gateway.serve_claimed``; anything else is handed to the gateway as a WSGI call (``wsgi``) and
from there to moto. Either way the connection stays open for the next request, so a call costs no
TCP handshake and no new thread.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading

from localcloud.core import http11, wsgi
from localcloud.core.gateway import Gateway

IDLE_CONNECTION_SECONDS = 120.0  # a kept-alive connection nobody uses is closed after this


class FrontDoorHandler(socketserver.BaseRequestHandler):
    """One connection: requests in a keep-alive loop, ours served here, the rest through WSGI."""

    server: FrontDoorServer

    def setup(self) -> None:
        self.request.settimeout(IDLE_CONNECTION_SECONDS)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small responses go out at once

    def handle(self) -> None:
        self.server.track(self.request, True)
        connection = http11.ServerConnection(self.request)
        try:
            while self._serve_one(connection):
                pass
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self.server.track(self.request, False)
            connection.close()

    def _serve_one(self, connection: http11.ServerConnection) -> bool:
        """Serve the next request; False once the connection is to be closed."""
        http11.ack_promptly(self.request)
        try:
            request = connection.next_request()
            if request is None:
                return False
            target = request.target.decode("latin-1")
            claimed = self.server.gateway.claim(request.method, target.split("?", 1)[0])
            if claimed is None:
                self._serve_wsgi(connection, request, target)
            else:
                self._serve_claimed(connection, request, claimed, target)
        except http11.BadRequest as error:
            connection.refuse(error)
            return False
        return connection.finish(request)

    def _serve_claimed(self, connection, request, claimed, target: str) -> None:
        body = connection.request_body(request, http11.MAX_BODY)
        response = self.server.gateway.serve_claimed(claimed, request.method, target, request.header_dict(), body)
        self._log(request.method, target, response.status_code)
        connection.respond(request, response.status_code, response.headers.to_wsgi_list(), response.get_data())

    def _serve_wsgi(self, connection, request, target: str) -> None:
        environ = wsgi.environ(connection, request, target, self.server.server_address, self.client_address)
        status, headers, chunks = wsgi.call(self.server.gateway, environ)
        self._log(request.method, target, status)
        try:
            connection.respond_streaming(request, status, headers, chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    @staticmethod
    def _log(method: str, target: str, status: int) -> None:
        """Only failures: pipelines poll a lot."""
        if status >= 500:
            print(f"{method} {target[:200]} answered {status}", file=sys.stderr, flush=True)


class FrontDoorServer(socketserver.ThreadingTCPServer):
    """A thread per connection; ``server_close`` also ends the kept-alive ones."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, gateway: Gateway):
        self.gateway = gateway
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((host, port), FrontDoorHandler)

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
