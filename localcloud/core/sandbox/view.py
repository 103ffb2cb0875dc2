"""What a sandboxed program sees of the host: only what it needs to run, read-only.

The new root is an empty tmpfs. Onto it go the system's programs and libraries (``/usr`` and the
top-level links into it), the few ``/etc`` files programs read, the Python installation and the
project's venv (the "framework image"), and where asked the ``localcloud`` package itself. Not the
home folder, the repository, or any state folder: the job's own folder comes in at ``/opt/ml`` and
``/tmp`` is private. bwrap creates missing parent folders 0700, which the program's uid could not
cross, so every parent of a mount is made 0755 first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from localcloud import PACKAGE_DIR

TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "localtime",
    "timezone",
    "alternatives",
    "mime.types",
    "protocols",
    "services",
    "os-release",
    "debian_version",
    "gitconfig",
    "inputrc",
    "bash.bashrc",
    "profile",
)
PACKAGE = PACKAGE_DIR  # the localcloud package folder


def python_paths() -> list[Path]:
    """The Python installation and the venv: both are needed for the venv's interpreter to start."""
    wanted = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    return sorted(wanted)


class View:
    """Builds bwrap's mount options in order, creating each mount point's parents 0755."""

    def __init__(self) -> None:
        self.args: list[str] = ["--tmpfs", "/"]
        self._made: set[str] = {"/"}
        self._mounted: list[str] = []

    def covers(self, path: str) -> bool:
        """Whether ``path`` is already visible through an earlier read-only mount."""
        return any(path == root or path.startswith(root.rstrip("/") + "/") for root in self._mounted)

    def _parents(self, path: str) -> None:
        for parent in reversed(Path(path).parents):
            name = str(parent)
            if name not in self._made and not self.covers(name):
                self.args += ["--perms", "0755", "--dir", name]
                self._made.add(name)

    def directory(self, path: str, mode: str = "0755") -> None:
        self._parents(path)
        self.args += ["--perms", mode, "--dir", path]
        self._made.add(path)

    def tmpfs(self, path: str, mode: str) -> None:
        self._parents(path)
        self.args += ["--perms", mode, "--tmpfs", path]
        self._made.add(path)

    def ro(self, source: str | Path, target: str | None = None) -> None:
        """Bind ``source`` read-only at ``target`` (its own path by default) unless already visible."""
        source = str(source)
        target = target or source
        if self.covers(target):
            return
        self._parents(target)
        self.args += ["--ro-bind", source, target]
        self._mounted.append(target)
        self._made.add(target)

    def rw(self, source: str | Path, target: str) -> None:
        self._parents(target)
        self.args += ["--bind", str(source), target]
        self._made.add(target)

    def host_path(self, path: Path) -> None:
        """A host folder at its own path (and at its resolved path, when a link leads there)."""
        real = path.resolve()
        self.ro(real)
        if str(path) != str(real):
            self.ro(real, str(path))

    def system(self, etc_files: dict[str, Path]) -> None:
        """``/usr``, the top-level links into it, devices, /proc, and the ``/etc`` a program needs.

        ``etc_files`` are generated files (passwd, group, hosts, resolv.conf) that replace the host's.
        """
        self.ro("/usr")
        for top in TOP_LEVEL:
            if os.path.islink(top):
                self.args += ["--symlink", os.readlink(top), top]
                self._made.add(top)
            elif os.path.isdir(top):
                self.ro(top)
        self.args += ["--dev", "/dev", "--proc", "/proc"]
        self._made.update({"/dev", "/proc"})
        self.tmpfs("/dev/shm", "1777")  # POSIX semaphores (multiprocessing, joblib) live here
        self.directory("/etc")
        for name in ETC_FILES:
            if name not in etc_files and os.path.lexists(f"/etc/{name}") and os.path.exists(f"/etc/{name}"):
                self.ro(f"/etc/{name}")
        for name, source in sorted(etc_files.items()):
            self.ro(source, f"/etc/{name}")
