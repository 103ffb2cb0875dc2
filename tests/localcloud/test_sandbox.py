"""The sandbox command line (what a job sees) and the relay that is its first process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from localcloud import PACKAGE_DIR
from localcloud.core import config, sandbox
from localcloud.core.sandbox import identity

RELAY = Path(sandbox.__file__).with_name("relay.py")


def bound(args: list[str], option: str = "--ro-bind") -> dict[str, str]:
    """Mount target -> source for every ``option`` of a bwrap command line."""
    return {args[i + 2]: args[i + 1] for i, arg in enumerate(args) if arg == option}


def program(args: list[str]) -> list[str]:
    return args[args.index("--") + 1 :]


def test_a_python_under_tmp_is_mounted_back_after_the_private_tmp(tmp_path, monkeypatch):
    venv = tmp_path / "checkout" / ".venv"
    (venv / "bin").mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(venv))
    monkeypatch.setattr(sys, "executable", str(venv / "bin" / "python"))
    args = sandbox.command(tmp_path / "ml", ["python3", "-V"], {})
    tmpfs = args.index("/tmp", args.index("--perms", args.index("--tmpfs", 2)))
    assert args[tmpfs - 1] == "--tmpfs" and args[tmpfs - 2] == "1777"
    assert str(venv.resolve()) in bound(args)
    assert args.index(str(venv.resolve())) > tmpfs, "the mount must come after /tmp is replaced"
    parent = str(venv.resolve().parent)
    made = args.index(parent, tmpfs)
    assert args[made - 3 : made] == ["--perms", "0755", "--dir"], "parents are made crossable, not 0700"
    path = args[args.index("PATH", args.index("--setenv")) + 1]
    assert path.startswith(str(venv / "bin")), "the project's Python comes first on PATH"


def test_the_root_is_empty_and_only_what_a_program_needs_is_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", "/root")
    args = sandbox.command(tmp_path / "ml", ["true"], {})
    assert args[args.index("--tmpfs")] == "--tmpfs" and args[args.index("--tmpfs") + 1] == "/"
    sources = set(bound(args).values())
    for hidden in ("/", "/root", "/etc", "/home", str(config.REPO_ROOT), str(config.state_dir()), str(tmp_path)):
        assert hidden not in sources, f"{hidden} must not be visible"
    assert bound(args, "--bind") == {"/opt/ml": str(tmp_path / "ml")}
    assert {"/usr", "/etc/ld.so.cache", sys.base_prefix} <= set(bound(args))
    assert bound(args)["/etc/passwd"] != "/etc/passwd", "a generated passwd, not the host's users"
    assert "--share-net" not in args and "--unshare-all" not in args
    for option in ("--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc"):
        assert option in args[: args.index("--")]


@pytest.mark.skipif(os.geteuid() != 0, reason="the root command line")
def test_as_root_the_program_runs_through_setpriv_as_nobody(tmp_path):
    args = sandbox.command(tmp_path / "ml", ["python3", "job.py"], {})
    assert "--unshare-user" not in args, "a user namespace would make the program root inside it"
    inner = program(args)
    # first the private /tmp becomes the job user's (as a container's is its root's), then setpriv drops root
    assert inner[1:7] == ["-I", "-S", "-c", identity.GIVE_TMP, "65534", "65534"]
    assert inner[7:17] == [
        "setpriv",
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
    assert inner[-2:] == ["python3", "job.py"]


def test_as_an_ordinary_user_bwrap_maps_to_a_non_root_uid(tmp_path, monkeypatch):
    monkeypatch.setattr(identity.os, "geteuid", lambda: 1000)
    monkeypatch.setenv(identity.UID_VARIABLE, "4242")
    monkeypatch.setenv(identity.GID_VARIABLE, "4343")
    args = sandbox.command(tmp_path / "ml", ["true"], {})
    head = args[: args.index("--")]
    user = head.index("--unshare-user")
    assert head[user : user + 8] == ["--unshare-user", "--uid", "4242", "--gid", "4343", "--cap-drop", "ALL"] + [
        "--disable-userns"
    ]
    assert program(args) == ["true"], "no setpriv without root"


def test_uid_zero_is_refused_with_the_variable_named(monkeypatch, tmp_path):
    monkeypatch.setenv(identity.UID_VARIABLE, "0")
    with pytest.raises(ValueError, match="LOCALCLOUD_SANDBOX_UID must be a non-zero"):
        sandbox.command(tmp_path / "ml", ["true"], {})


def test_the_api_comes_in_through_the_relay_unless_the_job_is_isolated(tmp_path):
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}
    args = sandbox.command(tmp_path / "ml", ["python3", "job.py"], env)
    assert sandbox.API_SOCKET in bound(args, "--bind")
    inner = program(args)
    relay = inner.index(sandbox.RELAY)
    assert inner[relay - 2 : relay] == ["-I", "-S"]
    assert inner[relay + 1 :] == [sandbox.API_SOCKET, "4566", "--", "python3", "job.py"]
    isolated = sandbox.command(tmp_path / "ml", ["python3", "job.py"], env, isolated=True)
    assert sandbox.API_SOCKET not in bound(isolated, "--bind") and sandbox.RELAY not in program(isolated)
    remote = sandbox.command(tmp_path / "ml", ["true"], {"AWS_ENDPOINT_URL": "https://sagemaker.example.com"})
    assert sandbox.RELAY not in program(remote), "only a loopback API is relayed"


def test_the_package_is_visible_only_when_asked(tmp_path):
    package = str(PACKAGE_DIR)
    assert package not in bound(sandbox.command(tmp_path / "ml", ["true"], {}))
    assert package in bound(sandbox.command(tmp_path / "ml", ["true"], {}, package=True))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the folder over")
def test_the_job_folder_is_handed_over_without_following_links(tmp_path):
    ml = tmp_path / "ml"
    (ml / "input").mkdir(parents=True)
    (ml / "input" / "data.csv").write_text("1\n")
    outside = tmp_path / "outside"
    outside.write_text("host file")
    (ml / "link").symlink_to(outside)
    identity.hand_over(ml, 65534, 65534)
    assert {p.stat(follow_symlinks=False).st_uid for p in [ml, *ml.rglob("*")]} == {65534}
    assert outside.stat().st_uid == 0, "a link in the folder must not hand over what it points to"


# the relay, run directly: what passes through it ----------------------------------------------------
class Echo:
    """A unix socket server that answers every connection with what it got."""

    def __init__(self, path: Path):
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                data = b""
                while chunk := connection.recv(65536):
                    data += chunk
                connection.sendall(b"echo:" + data)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def relay(path: Path, port: int, *argv: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-I", "-S", str(RELAY), str(path), str(port), "--", *argv], **popen)


def test_the_relay_pipes_the_port_to_the_socket_and_passes_output_and_exit_code_through(tmp_path):
    Echo(tmp_path / "api.sock")
    port = free_port()
    client = (
        f"import socket; s = socket.create_connection(('127.0.0.1', {port})); s.sendall(b'x' * 300000);"
        "s.shutdown(socket.SHUT_WR); data = b''\n"
        "while chunk := s.recv(65536): data += chunk\n"
        "print('got', len(data), data[:6]); print('[Container] marker line'); raise SystemExit(7)"
    )
    done = relay(tmp_path / "api.sock", port, sys.executable, "-c", client, stdout=subprocess.PIPE, text=True)
    out, _ = done.communicate(timeout=30)
    assert done.returncode == 7
    assert out == "got 300005 b'echo:x'\n[Container] marker line\n"


def test_the_relay_passes_sigterm_on_and_dies_of_it_like_the_child(tmp_path):
    port = free_port()
    child = "import signal, sys, time; print('ready', flush=True); time.sleep(30)"
    running = relay(tmp_path / "absent.sock", port, sys.executable, "-c", child, stdout=subprocess.PIPE, text=True)
    assert running.stdout.readline() == "ready\n"
    started = time.monotonic()
    running.send_signal(signal.SIGTERM)
    assert running.wait(timeout=10) == -signal.SIGTERM
    assert time.monotonic() - started < 5


def test_a_missing_program_is_exit_code_127(tmp_path):
    done = relay(tmp_path / "api.sock", free_port(), "no-such-program-here", stderr=subprocess.PIPE, text=True)
    _, err = done.communicate(timeout=30)
    assert done.returncode == 127 and "no-such-program-here" in err


def test_jobs_starting_at_once_can_both_write_the_sandboxs_generated_files():
    """Two jobs starting together (a tuning job's, the job service's two workers) write the same /etc
    files; neither may find the other's temporary file gone."""
    failures: list[BaseException] = []
    for round_ in range(20):
        name = f"race-{os.getpid()}-{round_}"
        barrier = threading.Barrier(4)

        def write(text: str, name: str = name, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                sandbox._generated(name, text)
            except OSError as error:
                failures.append(error)

        threads = [threading.Thread(target=write, args=(f"text {i}\n",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sandbox.network.API_SOCKETS.folder().joinpath(name).unlink(missing_ok=True)
    assert failures == []
