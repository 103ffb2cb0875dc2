"""Model servers that are starting load at a lower CPU priority than the ones serving traffic.

On SageMaker a new fleet boots on machines of its own; here it shares the cores with the fleet that
serves. A server loading its model (imports, unpickling, forking workers) for a second or two took
the CPU from the servers answering requests, and the endpoint's latency jumped while a deployment or
a scale-out started instances. So a starting server's processes run ``STARTING_NICENESS`` steps
nicer than the local cloud, and go back to the local cloud's own niceness once the server answered
its ping. Going back needs the privilege to lower a niceness (root, as the local cloud runs its
sandboxes): without it, servers start at the normal priority, since they could not be given it back.
"""

from __future__ import annotations

import os

STARTING_NICENESS = 10


def _children() -> dict[int, list[int]]:
    """Every running process's children, from /proc (one pass)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                parent = int(stat.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children = _children()
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def can_restore() -> bool:
    return os.geteuid() == 0


def _set(pid: int, niceness: int) -> None:
    for member in process_tree(pid):
        try:
            os.setpriority(os.PRIO_PROCESS, member, niceness)
        except (ProcessLookupError, PermissionError):
            pass  # gone, or not ours to change


def starting_niceness() -> int:
    """How many steps nicer than the local cloud a starting server runs (it is started so: a renice
    after the start missed the processes the sandbox forked meanwhile, which then loaded at full priority)."""
    return STARTING_NICENESS if can_restore() else 0


def serving(pid: int) -> None:
    """The server ``pid`` answered its ping: its processes get the local cloud's own priority."""
    if can_restore():
        _set(pid, os.getpriority(os.PRIO_PROCESS, 0))
