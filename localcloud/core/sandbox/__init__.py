"""Run a job's program as a host process that sees SageMaker's container layout, unprivileged.

bubblewrap gives the program namespaces of its own (mounts, pids, IPC, hostname, cgroups and the
network) and a root that holds only what it needs (``view``): the job's folder at ``/opt/ml``, a
private ``/tmp`` and an ``/etc/hosts`` that knows ``algo-1``. It never runs as root, has no
capabilities and cannot gain any (``identity``). Its network reaches the local cloud's API at the
URL it is given and, where slirp4netns is installed, the outside world, never the host's loopback
(``network``). The Python it runs on is a ``Runtime``: a framework image's environment for jobs and
model servers (``services/sagemaker/images``), the project's venv for the local cloud's own programs;
its ``bin`` comes first on ``PATH``, so the ``python3`` of a container entrypoint is the image's.
A ``sudo`` of the sandbox's own comes next (``sudo.sh``): containers run as root, and programs written
for them (SDK v3's remote-function bootstrap) run ``sudo chmod ...``; here it runs the command as the
job's user, who owns every folder the job may write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from localcloud.core.sandbox import identity, network
from localcloud.core.sandbox.runtime import Runtime, host
from localcloud.core.sandbox.view import PACKAGE, View

INSTALL_HINT = (
    "bubblewrap ('bwrap') is required to run local SageMaker jobs and endpoints but was not found on PATH. "
    "Install it with 'sudo apt-get install bubblewrap' (Debian/Ubuntu), 'sudo dnf install bubblewrap' "
    "(Fedora) or run 'make install' as root."
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUN_DIR = "/run/localcloud"
API_SOCKET = f"{RUN_DIR}/api.sock"
RELAY = f"{RUN_DIR}/relay.py"
HOSTS = "127.0.0.1 localhost algo-1\n::1 localhost\n"
SLIRP_RESOLV = "nameserver 10.0.2.3\n"  # slirp4netns's DNS forwarder
TOOLS_DIR = f"{RUN_DIR}/bin"  # the sandbox's own programs (sudo), on PATH after the Python's
SUDO = Path(__file__).with_name("sudo.sh")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing: nothing can run, and the message says how to fix it."""


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable(INSTALL_HINT)
    return found


def python_bin_dir() -> str:
    return str(Path(sys.executable).parent)


def _generated(name: str, text: str) -> Path:
    """A file the sandbox sees in /etc instead of the host's, kept in the private runtime folder."""
    path = network.API_SOCKETS.folder() / name
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{name}.{os.getpid()}-{threading.get_ident()}.tmp")  # one per writer: jobs start at once
        tmp.write_text(text)
        tmp.chmod(0o644)
        tmp.replace(path)
    return path


def _etc(uid: int, gid: int, outside: bool) -> dict[str, Path]:
    files = {
        "passwd": _generated(f"passwd-{uid}-{gid}", identity.passwd(uid, gid)),
        "group": _generated(f"group-{gid}", identity.group(gid)),
        "hosts": _generated("hosts", HOSTS),
    }
    if outside:
        files["resolv.conf"] = _generated("resolv-slirp.conf", SLIRP_RESOLV)
    elif Path("/etc/resolv.conf").exists():
        files["resolv.conf"] = Path("/etc/resolv.conf")
    return files


def command(
    ml_dir: Path,
    argv: Sequence[str],
    env: dict[str, str],
    workdir: str = "/opt/ml",
    *,
    isolated: bool = False,
    package: bool = False,
    outside: network.Outside | None = None,
    read_only: Sequence[Path] = (),
    writable: Mapping[str, Path] | None = None,
    runtime: Runtime | None = None,
) -> list[str]:
    """The bwrap command line that runs ``argv`` with ``ml_dir`` as ``/opt/ml``.

    ``isolated``: no network at all (SageMaker's ``EnableNetworkIsolation``), not even the API.
    ``package``: the ``localcloud`` package is visible read-only (programs of the local cloud's own).
    ``outside``: the descriptors through which slirp4netns joins (see ``spawn``).
    ``read_only``: host paths the program may read, at their own paths (a package index pip names).
    ``writable``: container path -> host folder the program may write (a job's own Python packages).
    ``runtime``: the Python it runs on (default: the project's venv).
    """
    runtime = runtime or host()
    uid, gid = identity.ids()
    port = None if isolated else network.api_port(env)
    view = View()
    view.system(_etc(uid, gid, outside is not None))
    view.tmpfs("/tmp", "1777")  # before the Python mounts: a checkout may live under /tmp
    for path in runtime.mounts:
        view.host_path(Path(path))
    if package:
        view.host_path(PACKAGE)
    for path in read_only:
        view.host_path(Path(path))
    view.rw(Path(ml_dir), "/opt/ml")
    for target, source in sorted((writable or {}).items()):
        view.rw(Path(source), target)
    program = [*identity.program_prefix(uid, gid, runtime.interpreter)]
    view.directory(RUN_DIR)
    view.directory(TOOLS_DIR)
    view.ro(SUDO, f"{TOOLS_DIR}/sudo")
    if port is not None:
        view.rw(network.API_SOCKETS.path(port), API_SOCKET)
        view.ro(Path(__file__).with_name("relay.py"), RELAY)
        program += [runtime.interpreter, "-I", "-S", RELAY, API_SOCKET, str(port), "--"]
    args = [
        bwrap_path(),
        "--die-with-parent",
        "--new-session",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *identity.bwrap_options(uid, gid),
        *view.args,
        "--chdir",
        workdir,
        "--clearenv",
    ]
    full_env = {
        "PATH": f"{runtime.bin_dir}:{TOOLS_DIR}:{SYSTEM_PATH}",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
    }
    full_env.update(env)
    for key, value in full_env.items():
        args += ["--setenv", key, str(value)]
    if outside is not None:
        args += outside.bwrap_options()
    return [*args, "--", *program, *argv]


def spawn(
    ml_dir: Path,
    argv: Sequence[str],
    env: dict[str, str],
    workdir: str = "/opt/ml",
    *,
    isolated: bool = False,
    package: bool = False,
    read_only: Sequence[Path] = (),
    writable: Mapping[str, Path] | None = None,
    runtime: Runtime | None = None,
    niceness: int = 0,
    **popen,
) -> subprocess.Popen:
    """Start ``argv`` in the sandbox (``popen``: Popen's output options); the folders become the program's.

    ``niceness``: steps nicer than this process that the sandbox runs from its first instruction, so
    everything it forks inherits it (a renice after the start races with those forks).
    """
    uid, gid = identity.ids()
    identity.hand_over(Path(ml_dir), uid, gid)
    for folder in (writable or {}).values():
        identity.hand_over(Path(folder), uid, gid)
    slirp = None if isolated else network.slirp_path()
    outside = network.Outside() if slirp else None
    args = command(
        ml_dir,
        argv,
        env,
        workdir,
        isolated=isolated,
        package=package,
        outside=outside,
        read_only=read_only,
        writable=writable,
        runtime=runtime,
    )
    if niceness:
        args = ["nice", "-n", str(niceness), *args]
    if outside is None:
        return subprocess.Popen(args, **popen)
    try:
        process = subprocess.Popen(args, pass_fds=outside.child_fds(), **popen)
    except BaseException:
        outside.abandon()
        raise
    outside.attach(slirp)
    return process


def run(
    ml_dir: Path,
    argv: Sequence[str],
    env: dict[str, str],
    on_line: Callable[[str], None],
    workdir: str = "/opt/ml",
    stop: Callable[[], bool] | None = None,
    *,
    isolated: bool = False,
    read_only: Sequence[Path] = (),
    writable: Mapping[str, Path] | None = None,
    runtime: Runtime | None = None,
) -> int:
    """Run to completion, handing every output line to ``on_line``; returns the exit code."""
    process = spawn(
        ml_dir,
        argv,
        env,
        workdir,
        isolated=isolated,
        read_only=read_only,
        writable=writable,
        runtime=runtime,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    for line in process.stdout:
        on_line(line.rstrip("\n"))
        if stop and stop():
            process.kill()
    return process.wait()


def start(
    ml_dir: Path,
    argv: Sequence[str],
    env: dict[str, str],
    log_path: Path,
    workdir: str = "/opt/ml",
    *,
    isolated: bool = False,
    package: bool = False,
    read_only: Sequence[Path] = (),
    runtime: Runtime | None = None,
    niceness: int = 0,
) -> subprocess.Popen:
    """Start a long-running program (a model server) with its output going to ``log_path``."""
    with open(log_path, "ab") as log:  # the child keeps its own copy
        return spawn(
            ml_dir,
            argv,
            env,
            workdir,
            isolated=isolated,
            package=package,
            read_only=read_only,
            runtime=runtime,
            niceness=niceness,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
