"""Who a sandboxed program is: never root, no capabilities, no way to gain privileges.

As root the local cloud starts bwrap without a user namespace (a user namespace would make the
program root inside it) and the program runs through util-linux's ``setpriv`` as an ordinary uid.
As an ordinary user, bwrap needs a user namespace, where it maps that user to the same uid.
"""

from __future__ import annotations

import os
from pathlib import Path

UID_VARIABLE = "LOCALCLOUD_SANDBOX_UID"
GID_VARIABLE = "LOCALCLOUD_SANDBOX_GID"
DEFAULT_ID = 65534  # nobody / nogroup


def _id(variable: str) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return DEFAULT_ID
    if not raw.isdigit() or int(raw) == 0:
        raise ValueError(f"{variable} must be a non-zero uid/gid number, got {raw!r}: fix it or unset it for 65534")
    return int(raw)


def ids() -> tuple[int, int]:
    """The uid and gid programs run as inside the sandbox."""
    return _id(UID_VARIABLE), _id(GID_VARIABLE)


def privileged() -> bool:
    """Whether the local cloud runs as root (then bwrap runs without a user namespace)."""
    return os.geteuid() == 0


def bwrap_options(uid: int, gid: int) -> list[str]:
    """As an ordinary user: a user namespace mapping us to ``uid``, with every capability dropped."""
    if privileged():
        return []
    return ["--unshare-user", "--uid", str(uid), "--gid", str(gid), "--cap-drop", "ALL", "--disable-userns"]


GIVE_TMP = "import os, sys; os.chown('/tmp', int(sys.argv[1]), int(sys.argv[2])); os.execvp(sys.argv[3], sys.argv[3:])"


def program_prefix(uid: int, gid: int, interpreter: str = "") -> list[str]:
    """As root: what the program runs through to become ``uid``:``gid`` with nothing to regain.

    With an ``interpreter`` (any Python 3), the private ``/tmp`` (a tmpfs bwrap made as root) is first
    given to that user, as a container's ``/tmp`` is its root user's: a program may then change its
    permissions (``sudo chmod -R 777 /tmp``). Python, not a shell, does it: a shell would drop
    variables whose names it cannot hold (the toolkit's ``SM_HP_MAX-DEPTH``). As an ordinary user
    the tmpfs is already the program's."""
    if not privileged():
        return []
    give_tmp = [interpreter, "-I", "-S", "-c", GIVE_TMP, str(uid), str(gid)] if interpreter else []
    return [
        *give_tmp,
        "setpriv",
        "--reuid",
        str(uid),
        "--regid",
        str(gid),
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def hand_over(folder: Path, uid: int, gid: int) -> None:
    """Make the program's own folder (``/opt/ml``) its own, without following any link in it.

    Only as root (an ordinary user's files already map to the program's uid). Descriptors, not
    paths, are walked, so a link left by an earlier phase cannot point the change elsewhere.
    """
    if not privileged():
        return
    os.chown(folder, uid, gid, follow_symlinks=False)
    for _, dirs, files, fd in os.fwalk(folder):
        for name in dirs + files:
            os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)


def passwd(uid: int, gid: int) -> str:
    """An /etc/passwd that names the program's user, and nobody of the host's."""
    return f"root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{uid}:{gid}:sandbox:/tmp:/bin/sh\n"


def group(gid: int) -> str:
    return f"root:x:0:\nsandbox:x:{gid}:\n"
