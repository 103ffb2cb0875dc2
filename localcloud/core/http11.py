"""HTTP/1.1 on a socket: httptools (llhttp, the parser of Node.js) reads, the limits are ours.

Every endpoint invocation crosses HTTP twice: client to the front door, front door to the model
server. The parsing (request and status lines, headers, Content-Length and chunked bodies,
keep-alive) is llhttp's, through httptools; this module moves bytes between it and a socket, refuses
what is too large with the status that says so, and writes each small message in one go, so that a
kept-alive request costs a few reads and one write. (h11, pure Python, costs several times more per
request, which the endpoint figure in ``bench/endpoint.py`` cannot afford.) The front door serves
with ``ServerConnection``; the proxy talks to model servers with ``ClientConnection``.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus

import httptools

MAX_HEAD = 65536  # the request target, and the headers together
MAX_HEADERS = 100
MAX_BODY = 16 * 1024 * 1024  # our own routes take at most an invocation (6 MB) and a bit; S3 goes to moto
RECEIVE = 65536  # also bounds what is parsed ahead of what the reader asked for
BODY_RECEIVE = 1024 * 1024  # while a body is read: fewer, larger receives (an S3 upload streams at disk speed)
LINGER_BYTES = 1024 * 1024  # read and dropped before closing on a request we did not read whole
FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
REASONS = {status.value: status.phrase for status in HTTPStatus}


class BadRequest(Exception):
    """The bytes on the connection are not an HTTP/1.x message we can read, or exceed a limit."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Message:
    """One request or response as it is parsed; its body arrives in ``parts``."""

    target: bytearray = field(default_factory=bytearray)
    headers: list[tuple[str, str]] = field(default_factory=list)  # names lower-cased, in order
    raw_names: list[str] = field(default_factory=list)  # as sent, for the WSGI environ
    parts: deque = field(default_factory=deque)
    method: str = ""
    status: int = 0
    version: str = "1.1"
    keep_alive: bool = True
    head_done: bool = False
    complete: bool = False
    head_size: int = 0
    fed: int = 0  # bytes received while its head was incomplete

    def header(self, name: str, default: str = "") -> str:
        return next((value for key, value in self.headers if key == name), default)

    def header_dict(self) -> dict[str, str]:
        """Names lower-cased; a repeated header's values joined with commas."""
        found: dict[str, str] = {}
        for name, value in self.headers:
            found[name] = f"{found[name]}, {value}" if name in found else value
        return found


def ack_promptly(connection: socket.socket) -> None:
    """Acknowledge the next incoming segment at once instead of after the delayed-ACK timer.

    botocore leaves Nagle's algorithm on and sends a request's headers and body in two writes, so
    the body waits for the headers' ACK; Linux would hold that ACK until it has something to send.
    The flag is not sticky, hence a call before each request.
    """
    try:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except (AttributeError, OSError):  # not Linux, or not TCP: nothing to tune
        pass


def head(
    first_line: str, headers: Iterable[tuple[str, str]], length: int | None, connection: str | None, chunked=False
) -> bytes:
    """A start line and headers, with our framing in place of any in ``headers`` (none for a
    response that has no body: ``length`` None and not ``chunked``)."""
    lines = [first_line]
    for name, value in headers:
        if name.lower() not in FRAMING:
            if "\n" in value or "\r" in value:
                raise ValueError(f"a newline in the value of header {name}")
            lines.append(f"{name}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    elif chunked:
        lines.append("Transfer-Encoding: chunked")
    if connection:
        lines.append(f"Connection: {connection}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Reader:
    """Feeds a socket's bytes to an httptools parser, one receive at a time, as the reader asks."""

    def __init__(self, sock: socket.socket, parser_type):
        self.sock = sock
        self.messages: deque[Message] = deque()
        self.parser = parser_type(self)
        self.error: BadRequest | None = None
        self.closed = False

    # httptools callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.messages.append(Message())

    def on_url(self, url: bytes) -> None:
        message = self.messages[-1]
        message.target += url
        if len(message.target) > MAX_HEAD:
            self._fail(BadRequest(f"request target longer than {MAX_HEAD} bytes", 414))

    def on_header(self, name: bytes, value: bytes) -> None:
        message = self.messages[-1]
        message.head_size += len(name) + len(value)
        if len(message.headers) >= MAX_HEADERS:
            self._fail(BadRequest(f"more than {MAX_HEADERS} headers", 431))
        if message.head_size > MAX_HEAD:
            self._fail(BadRequest(f"headers longer than {MAX_HEAD} bytes", 431))
        raw = name.decode("latin-1")
        message.raw_names.append(raw)
        message.headers.append((raw.lower(), value.decode("latin-1").strip()))

    def on_headers_complete(self) -> None:
        message = self.messages[-1]
        message.head_done = True
        message.keep_alive = self.parser.should_keep_alive()
        message.version = self.parser.get_http_version()
        if isinstance(self.parser, httptools.HttpRequestParser):
            message.method = self.parser.get_method().decode("ascii")
        else:
            message.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.messages[-1].parts.append(bytes(body))

    def on_message_complete(self) -> None:
        self.messages[-1].complete = True

    def _fail(self, error: BadRequest) -> None:
        self.error = error
        raise error

    # reading -----------------------------------------------------------------------------
    def feed(self, size: int = RECEIVE) -> None:
        """Parse one more receive; the head of a message still incomplete past the limit is refused."""
        pending = self.messages[-1] if self.messages and not self.messages[-1].head_done else None
        if pending is not None and pending.fed > 2 * MAX_HEAD:  # a value arriving in pieces: bound it early
            raise BadRequest(f"headers longer than {MAX_HEAD} bytes", 431 if pending.headers else 414)
        data = self.sock.recv(size)
        if not data:
            self.closed = True
            return
        if pending is not None:
            pending.fed += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError:
            raise self.error or BadRequest("malformed message") from None
        except httptools.HttpParserUpgrade:
            raise BadRequest("protocol upgrades are not served here") from None
        except httptools.HttpParserError as error:
            raise BadRequest(f"malformed message: {error}") from None

    def next_head(self) -> Message | None:
        """The next message whose head is complete; None if the peer closed before one began."""
        while not (self.messages and self.messages[0].head_done):
            if self.closed:
                if self.messages:
                    raise BadRequest("the connection closed in the middle of a message head")
                return None
            self.feed()
        return self.messages[0]

    def body_parts(self, message: Message) -> Iterator[bytes]:
        """The body of ``message`` (the current one) as it arrives."""
        while True:
            while message.parts:
                yield message.parts.popleft()
            if message.complete:
                return
            if self.closed:
                raise ConnectionError("the connection closed in the middle of a body")
            self.feed(BODY_RECEIVE)

    def read_body(self, message: Message, limit: int) -> bytes:
        declared = message.header("content-length")
        if declared.isdigit() and int(declared) > limit:
            raise BadRequest(f"request body of {declared} bytes is larger than the {limit} bytes allowed", 413)
        parts, size = [], 0
        for part in self.body_parts(message):
            size += len(part)
            if size > limit:
                raise BadRequest(f"request body larger than the {limit} bytes allowed", 413)
            parts.append(part)
        return b"".join(parts)

    def finish(self, message: Message) -> bool:
        """Done with ``message``: whether the connection can carry the next one."""
        if not message.complete or not message.keep_alive:
            return False
        self.messages.popleft()
        return True


class ServerConnection(_Reader):
    """The server side of one connection."""

    def __init__(self, sock: socket.socket):
        super().__init__(sock, httptools.HttpRequestParser)
        self._continued = False

    def next_request(self) -> Message | None:
        self._continued = False
        try:
            return self.next_head()
        except ConnectionError:
            return None

    def continue_if_asked(self, request: Message) -> None:
        """Answer ``Expect: 100-continue`` once the body is wanted, as a client waiting for it asks."""
        if not self._continued and not request.complete and request.header("expect").lower() == "100-continue":
            self._continued = True
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def request_body(self, request: Message, limit: int = MAX_BODY) -> bytes:
        self.continue_if_asked(request)
        try:
            return self.read_body(request, limit)
        except ConnectionError:
            raise BadRequest("the request ended before its body did") from None

    def respond(self, request: Message, status: int, headers, body: bytes = b"") -> None:
        """A whole response in one write."""
        line = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"
        start = head(line, headers, len(body), "keep-alive" if request.keep_alive else "close")
        self.sock.sendall(start if request.method == "HEAD" else start + body)

    def respond_streaming(self, request: Message, status: int, headers: list[tuple[str, str]], chunks) -> None:
        """A response whose body comes in pieces, framed by the ``Content-Length`` in ``headers`` if
        any, else chunked; small ones still go out in one write."""
        length = next((int(value) for name, value in headers if name.lower() == "content-length"), None)
        bodiless = status in (204, 304) or status < 200  # no body and no framing, whatever the app says
        if bodiless:
            length = None
        chunked = length is None and not bodiless
        line = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"
        out = bytearray(head(line, headers, length, "keep-alive" if request.keep_alive else "close", chunked))
        for chunk in chunks:
            if chunk and request.method != "HEAD" and not bodiless:
                out += b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk
                if len(out) >= RECEIVE:
                    self.sock.sendall(out)
                    out.clear()
        if chunked and request.method != "HEAD":
            out += b"0\r\n\r\n"
        self.sock.sendall(out)

    def refuse(self, error: BadRequest) -> None:
        """Answer a request we cannot read with its status; the connection closes after."""
        body = f"{error}\n".encode()
        line = f"HTTP/1.1 {error.status} {REASONS.get(error.status, 'Status')}"
        self.sock.sendall(head(line, [("Content-Type", "text/plain")], len(body), "close") + body)

    def close(self) -> None:
        """Close; first read (and drop) a little of what the client still sends, so that the kernel
        does not answer it with a reset that could destroy our last response in flight."""
        try:
            if not self.closed and self.messages:
                self.sock.shutdown(socket.SHUT_WR)
                self.sock.settimeout(1.0)
                received = 0
                while received < LINGER_BYTES and (data := self.sock.recv(RECEIVE)):
                    received += len(data)
        except OSError:
            pass
        finally:
            self.sock.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    keep_alive: bool


class ClientConnection(_Reader):
    """The client side of one connection: one exchange at a time."""

    def __init__(self, sock: socket.socket, host: str = "localhost"):
        super().__init__(sock, httptools.HttpResponseParser)
        self.host = host

    def exchange(self, method: str, target: str, headers, body: bytes = b"", limit: int = MAX_BODY) -> Answer:
        """Send a request in one write and read its whole response."""
        given = list(headers.items() if isinstance(headers, dict) else headers)
        if not any(name.lower() == "host" for name, _ in given):
            given.insert(0, ("Host", self.host))
        connection = next((value for name, value in given if name.lower() == "connection"), None)
        self.sock.sendall(head(f"{method} {target} HTTP/1.1", given, len(body), connection) + body)
        while True:
            response = self.next_head()
            if response is None:
                raise ConnectionError("the server closed the connection without answering")
            if response.status != 100:
                break
            self.messages.popleft()
        data = self.read_body(response, limit)
        return Answer(response.status, response.header_dict(), data, self.finish(response))
