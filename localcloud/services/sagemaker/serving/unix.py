"""Unix sockets in a folder, addressed through a descriptor of the folder.

An AF_UNIX address holds at most 107 bytes, and a state folder (with an endpoint's and a variant's
names below it) can be nested deeper than that: ``/proc/self/fd/<fd>/<name>`` is always short.
Standard library only: the model server uses it inside the sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path


class SocketFolder:
    """A folder of sockets, held open (``O_PATH``) until ``close``."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def address(self, name: str) -> str:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"a socket name must be a plain file name, got {name!r}")
        return f"/proc/self/fd/{self.fd}/{name}"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
