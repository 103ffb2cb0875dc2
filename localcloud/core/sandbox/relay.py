"""The first process of a sandbox that reaches the local cloud's API through a forwarded socket.

The sandbox has a network namespace of its own, so the API's ``127.0.0.1:<port>`` is not there.
This program listens on that address inside the namespace, pipes each connection to the unix
socket bound in from the host, and runs the real program as its child: signals are passed on, and
the child's exit (code or signal) becomes its own. It writes nothing to the output the program
shares with it, so the program's lines pass through unchanged.

Standalone (the standard library only, nothing of localcloud): it runs as ``python3 -I -S``.

    python3 -I -S relay.py SOCKET PORT -- PROGRAM [ARGUMENT...]
"""

import os
import signal
import socket
import sys
import threading

CHUNK = 256 * 1024


def pipe(source, sink):
    try:
        while True:
            data = source.recv(CHUNK)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def forward(client, path):
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    back.start()
    pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()


def accept(listener, path):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            continue
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=forward, args=(client, path), daemon=True).start()


def exit_like(status):
    """End the way the child ended: the same exit code, or killed by the same signal."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status))


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: relay.py SOCKET PORT -- PROGRAM [ARGUMENT...]\n")
        return 2
    path, port, program = argv[0], int(argv[1]), argv[3:]
    try:
        listener = socket.create_server(("127.0.0.1", port), backlog=128, reuse_port=False)
    except OSError as error:
        sys.stderr.write(f"ERROR: the sandbox cannot offer the local cloud's API on 127.0.0.1:{port}: {error}\n")
        return 1
    threading.Thread(target=accept, args=(listener, path), daemon=True).start()
    child = None

    def pass_on(number, _frame):
        if child is not None:
            os.kill(child, number)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, pass_on)
    try:
        child = os.posix_spawnp(program[0], program, os.environ)
    except OSError as error:
        sys.stderr.write(f"{program[0]}: {error.strerror}\n")
        return 127 if isinstance(error, FileNotFoundError) else 126
    while True:
        pid, status = os.waitpid(child, 0)
        if pid == child:
            exit_like(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
