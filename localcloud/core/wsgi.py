"""A request read by the front door as a WSGI call (PEP 3333), for the gateway and moto behind it.

The environ is what werkzeug's server with moto's handler would build, so that moto sees no
difference: ``RAW_URI`` holds the target as sent (the signature covers it), a header name with an
underscore is dropped (it could pose as its dashed twin) unless moto keeps it (S3 metadata), and a
repeated header is joined with commas. The body is read from the connection only as the
application reads it, so the gateway can refuse an oversized one (413) before it arrives.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)

from localcloud.core import http11


class RequestBody(io.RawIOBase):
    """``wsgi.input``: the request's body as it arrives, after ``100 Continue`` if the client asked."""

    def __init__(self, connection: http11.ServerConnection, request: http11.Message):
        super().__init__()
        self._connection, self._request = connection, request
        self._parts = None
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._pending:
            if self._parts is None:
                self._connection.continue_if_asked(self._request)
                self._parts = self._connection.body_parts(self._request)
            self._pending = memoryview(next(self._parts, b""))
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def environ(
    connection: http11.ServerConnection,
    request: http11.Message,
    target: str,
    server_address: tuple,
    client_address: tuple,
) -> dict[str, Any]:
    url = urlsplit(target)
    path = f"/{url.netloc}{url.path}" if url.netloc and not url.scheme else url.path  # "//x/y" is a path
    found: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BufferedReader(RequestBody(connection, request)),
        "wsgi.input_terminated": True,  # read to the end of the body, whatever its framing
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": url.query,
        "REQUEST_URI": target,
        "RAW_URI": target,
        "REMOTE_ADDR": client_address[0],
        "REMOTE_PORT": client_address[1],
        "SERVER_NAME": server_address[0],
        "SERVER_PORT": str(server_address[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.version}",
    }
    underscored, preserved = [], {}
    for name, (_, value) in zip(request.raw_names, request.headers, strict=True):
        if "_" in name:
            underscored.append((name, value))
            continue
        key = environ_key_for_header(name)
        found[key] = f"{found[key]},{value}" if key in found and key.startswith("HTTP_") else value
    for name, value in underscored:
        key = environ_key_for_header(name)
        if should_preserve_original_header_name(name) and (key not in found or key in preserved):
            preserved.setdefault(key, name)
            found[key] = f"{found[key]},{value}" if key in found else value
    found[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    if url.scheme and url.netloc:
        found["HTTP_HOST"] = url.netloc  # an absolute target names the host
    return found


def call(app: Callable, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Iterable[bytes]]:
    """Run the application: its status, headers and body (an iterable to close once sent)."""
    started: list = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):  # noqa: ARG001
        started[:] = [int(status.split(" ", 1)[0]), headers]  # nothing is sent before the app returns: replace
        return _no_write

    chunks = app(environ, start_response)
    if not started:  # a lazy application starts the response with its first chunk
        iterator = iter(chunks)
        first = next(iterator, b"")
        return (*started, _prepend(first, iterator, chunks))
    return (*started, chunks)


def _no_write(data: bytes) -> None:
    raise NotImplementedError("the front door does not support WSGI's write(); return the body instead")


class _prepend:
    """The body of an application that started its response only when iterated."""

    def __init__(self, first: bytes, rest, original):
        self._first, self._rest, self._original = first, rest, original

    def __iter__(self):
        yield self._first
        yield from self._rest

    def close(self) -> None:
        close = getattr(self._original, "close", None)
        if close:
            close()
