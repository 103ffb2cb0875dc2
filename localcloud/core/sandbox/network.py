"""A sandbox's network: its own namespace that reaches the local cloud's API and nothing else of the host.

The host side: for each API port, a unix socket in a private folder whose every connection is
relayed to ``127.0.0.1:<port>``. The socket is bound into the sandbox, where ``relay.py`` listens on
that same port and pipes connections to it, so programs use the URL they are given. Only that port
is reachable; every other service on the host's loopback is not.

The outside network, where the machine has ``slirp4netns``: it gives the namespace a tap device
routed through the host's network stack, with ``--disable-host-loopback`` so that the host's
loopback stays out of reach, as it is for a SageMaker job.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
SLIRP_READY_SECONDS = 5.0
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def api_port(env: dict[str, str]) -> int | None:
    """The port of the local cloud's API named by ``AWS_ENDPOINT_URL``, when it is on the loopback."""
    url = urlsplit(env.get("AWS_ENDPOINT_URL", ""))
    if url.scheme != "http" or url.hostname not in LOOPBACK_NAMES or not url.port:
        return None
    return url.port


def pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy until end of stream, then pass the end on (a half-close, so the answer still comes back)."""
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class _Relay(socketserver.BaseRequestHandler):
    server: _ApiSocket

    def handle(self) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        except OSError:
            return
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=pipe, args=(upstream, self.request), daemon=True)
        back.start()
        pipe(self.request, upstream)
        back.join()
        upstream.close()


class _ApiSocket(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, path: Path, port: int):
        self.port = port
        super().__init__(str(path), _Relay)
        os.chmod(path, 0o666)  # the sandbox's uid connects; the folder above it is ours alone


class ApiSockets:
    """One relaying unix socket per API port, started on first use and kept for the process's life."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[int, _ApiSocket] = {}
        self._folder: Path | None = None

    def folder(self) -> Path:
        """The private folder (0700) of this process's sockets and generated sandbox files."""
        with self._lock:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="localcloud-sandbox-"))
                atexit.register(shutil.rmtree, self._folder, True)
            return self._folder

    def path(self, port: int) -> Path:
        folder = self.folder()
        with self._lock:
            if port not in self._servers:
                server = _ApiSocket(folder / f"api-{port}.sock", port)
                threading.Thread(target=server.serve_forever, name=f"sandbox-api-{port}", daemon=True).start()
                self._servers[port] = server
            return Path(self._servers[port].server_address)


API_SOCKETS = ApiSockets()


def slirp_path() -> str | None:
    return shutil.which("slirp4netns")


def _read_child_pid(fd: int) -> int:
    """bwrap's ``--info-fd`` JSON: the pid of the sandbox's first process, in whose namespace slirp joins."""
    data = b""
    while not data.rstrip().endswith(b"}"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return int(json.loads(data)["child-pid"])


class Outside:
    """The descriptors that let ``slirp4netns`` join a sandbox before its program starts.

    bwrap reports the namespace's pid on ``info`` and holds the program until ``block`` has a byte;
    slirp4netns exits when the write end of ``exit`` (held by bwrap and its children) is closed.
    """

    def __init__(self) -> None:
        self.info_read, self.info_write = os.pipe()
        self.block_read, self.block_write = os.pipe()
        self.exit_read, self.exit_write = os.pipe()

    def bwrap_options(self) -> list[str]:
        return ["--info-fd", str(self.info_write), "--block-fd", str(self.block_read)]

    def child_fds(self) -> tuple[int, ...]:
        return self.info_write, self.block_read, self.exit_write

    def attach(self, slirp: str) -> None:
        """Start slirp4netns in the new namespace, then let the program go (with or without it)."""
        for fd in self.child_fds():
            os.close(fd)
        ready_read, ready_write = os.pipe()
        try:
            pid = _read_child_pid(self.info_read)
            _wait_loopback(pid)
            process = subprocess.Popen(
                [slirp, "--configure", "--mtu=65520", "--disable-host-loopback"]
                + ["--ready-fd", str(ready_write), "--exit-fd", str(self.exit_read), str(pid), "tap0"],
                pass_fds=(ready_write, self.exit_read),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.close(ready_write)
            ready_write = -1
            threading.Thread(target=process.wait, name="slirp4netns-reaper", daemon=True).start()
            if not _wait_readable(ready_read, SLIRP_READY_SECONDS) or not os.read(ready_read, 1):
                log.warning("slirp4netns did not come up: the sandbox has no outside network")
        except (OSError, ValueError, KeyError) as error:
            log.warning("could not attach slirp4netns (%s): the sandbox has no outside network", error)
        finally:
            for fd in (ready_read, ready_write, self.info_read, self.exit_read):
                if fd >= 0:
                    os.close(fd)
            try:
                os.write(self.block_write, b"1")
            except OSError:
                pass  # bwrap is gone already
            os.close(self.block_write)

    def abandon(self) -> None:
        """bwrap could not start: close everything."""
        for fd in (*self.child_fds(), self.info_read, self.block_write, self.exit_read):
            try:
                os.close(fd)
            except OSError:
                pass


def _wait_loopback(pid: int, timeout: float = 2.0) -> None:
    """Wait until bwrap has set up the namespace's loopback: slirp4netns brings ``lo`` up too, and
    bwrap fails (``Failed RTM_NEWADDR``) if the address is there before it adds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if b"127.0.0.1" in Path(f"/proc/{pid}/net/fib_trie").read_bytes():
                return
        except OSError:
            return  # the sandbox is gone already
        time.sleep(0.001)


def _wait_readable(fd: int, timeout: float) -> bool:
    import select

    readable, _, _ = select.select([fd], [], [], timeout)
    return bool(readable)
