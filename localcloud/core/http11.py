"""A lean HTTP/1.1 reader and writer for the local cloud's hot paths.

Every endpoint invocation crosses HTTP twice: client to the front door, front door to the model
server. Both ends use this module rather than ``http.server`` (which parses headers with
``email.parser``) and both keep connections alive, so a request costs a few reads and one write
instead of a TCP handshake and a new thread. It reads only what those paths need: a request line,
headers, and a body framed by Content-Length or chunked encoding.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs

MAX_LINE = 65536  # request line, each header line, each chunk-size line
MAX_HEADERS = 100
MAX_BODY = 16 * 1024 * 1024  # our own routes take at most an invocation (6 MB) and a bit; S3 goes to moto
REASONS = {status.value: status.phrase for status in HTTPStatus}
FRAMING_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})


class BadRequest(Exception):
    """The bytes on the connection are not an HTTP/1.x request we can read, or exceed a limit."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _line(rfile: io.BufferedIOBase, what: str, status: int) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise BadRequest(f"{what} longer than {MAX_LINE} bytes", status)
    return line


@dataclass
class HttpRequest:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> dict[str, list[str]]:
        query = self.target.partition("?")[2]
        return parse_qs(query) if query else {}

    @property
    def keep_alive(self) -> bool:
        return keeps_alive(self.version, self.headers)


def keeps_alive(version: str, headers: dict[str, str]) -> bool:
    """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when asked to keep it."""
    connection = headers.get("connection", "").lower()
    return connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"


def _head(
    first_line: str, headers: Iterable[tuple[str, str]], body_length: int, connection: str | None = None
) -> bytes:
    """The start line and headers, with our own framing in place of any the caller passed."""
    lines = [first_line]
    lines.extend(f"{name}: {value}" for name, value in headers if name.lower() not in FRAMING_HEADERS)
    lines.append(f"Content-Length: {body_length}")
    if connection:
        lines.append(f"Connection: {connection}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def ack_promptly(connection: socket.socket) -> None:
    """Acknowledge the next incoming segment at once instead of after the delayed-ACK timer.

    botocore leaves Nagle's algorithm on and sends a request's headers and body in two writes, so
    the body waits for the headers' ACK; Linux would hold that ACK until it has something to send.
    The flag is not sticky, hence a call before each request.
    """
    try:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except (AttributeError, OSError):  # not Linux: nothing to tune
        pass


def read_request_line(rfile: io.BufferedIOBase) -> tuple[bytes, tuple[str, str, str]] | None:
    """The next request line, raw and split; None when the peer closed the connection."""
    line = _line(rfile, "request line", 414)
    while line in (b"\r\n", b"\n"):  # tolerated between requests
        line = _line(rfile, "request line", 414)
    if not line:
        return None
    try:
        method, target, version = line.decode("latin-1").split()
    except ValueError:
        raise BadRequest(f"malformed request line {line[:80]!r}") from None
    return line, (method, target, version)


def read_rest(
    rfile: io.BufferedIOBase, wfile: io.BufferedIOBase, method: str, target: str, version: str
) -> HttpRequest:
    """Headers and body of the request whose line was just read (answers ``Expect: 100-continue``)."""
    headers = read_headers(rfile)
    if headers.get("expect", "").lower() == "100-continue":
        wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    return HttpRequest(method, target, version, headers, read_body(rfile, headers))


def read_headers(rfile: io.BufferedIOBase) -> dict[str, str]:
    """Header lines up to the blank line, names lower-cased."""
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        raw = _line(rfile, "header line", 431)
        if raw in (b"\r\n", b"\n", b""):
            return headers
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    raise BadRequest(f"more than {MAX_HEADERS} headers", 431)


def read_body(rfile: io.BufferedIOBase, headers: dict[str, str], limit: int = MAX_BODY) -> bytes:
    """A message body framed by chunked encoding or Content-Length (none: empty), at most ``limit`` bytes."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return _read_chunked(rfile, limit)
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        raise BadRequest(f"malformed Content-Length {headers['content-length']!r}") from None
    if length > limit:
        raise BadRequest(f"request body of {length} bytes is larger than the {limit} bytes allowed", 413)
    body = rfile.read(length) if length > 0 else b""
    if len(body) < length:
        raise ConnectionError("body cut short")
    return body


def read_request(rfile: io.BufferedIOBase, wfile: io.BufferedIOBase) -> HttpRequest | None:
    """The next whole request on a connection; None when the peer closed it."""
    found = read_request_line(rfile)
    if found is None:
        return None
    return read_rest(rfile, wfile, *found[1])


def _read_chunked(rfile: io.BufferedIOBase, limit: int = MAX_BODY) -> bytes:
    parts = []
    total = 0
    while True:
        size_line = _line(rfile, "chunk-size line", 400)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest("malformed chunk size") from None
        if size < 0 or total + size > limit:
            raise BadRequest(f"chunked request body larger than the {limit} bytes allowed", 413)
        if size == 0:
            for _ in range(MAX_HEADERS):
                if _line(rfile, "trailer line", 431) in (b"\r\n", b"\n", b""):
                    return b"".join(parts)
            raise BadRequest(f"more than {MAX_HEADERS} trailers", 431)
        parts.append(rfile.read(size))
        total += size
        _line(rfile, "chunk end", 400)


def write_response(
    wfile: io.BufferedIOBase,
    status: int,
    body: bytes,
    headers: list[tuple[str, str]],
    keep_alive: bool,
    head_only: bool = False,
) -> None:
    """One write per response, so header and body never go out as separate packets.

    Framing is ours: Content-Length and Connection in ``headers`` are replaced.
    """
    status_line = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"
    head = _head(status_line, headers, len(body), "keep-alive" if keep_alive else "close")
    wfile.write(head if head_only else head + body)


def encode_request(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """A whole request, framed by Content-Length, keeping the connection (send it in one go)."""
    given = [("Host", "127.0.0.1")] if not any(name.lower() == "host" for name in headers) else []
    return _head(f"{method} {path} HTTP/1.1", [*given, *headers.items()], len(body)) + body


def read_response(rfile: io.BufferedIOBase) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers, body, and whether the server keeps the connection open."""
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if not line:
            raise ConnectionError("the server closed the connection without answering")
        try:
            version, status_text = line.decode("latin-1").split(None, 2)[:2]
            status = int(status_text)
        except ValueError:
            raise BadRequest(f"malformed status line {line[:80]!r}") from None
        headers = read_headers(rfile)
        if status != 100:
            break
    return status, headers, read_body(rfile, headers), keeps_alive(version, headers)


class Replay(io.RawIOBase):
    """A stream that yields ``consumed`` first, then whatever ``rest`` reads: hands a connection
    whose request line we already read to a server that wants to read it again."""

    def __init__(self, consumed: bytes, rest: io.BufferedIOBase):
        super().__init__()
        self._pending = memoryview(consumed)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._pending:
            count = min(len(buffer), len(self._pending))
            buffer[:count] = self._pending[:count]
            self._pending = self._pending[count:]
            return count
        data = self._rest.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)
