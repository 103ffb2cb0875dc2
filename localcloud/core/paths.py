"""Paths built from untrusted parts stay where they belong, and links are never a way out.

Names, S3 keys and container paths come from API callers, templates and the programs we run.
``contained`` joins them under a root and refuses any result that leaves it once ``..`` and
symbolic links are resolved. ``files_within`` lists a folder's files for upload without following
a link whose target lies outside the folder a sandboxed program owned: such a target is a file of
the host (the link was made inside the sandbox, but it is resolved here, outside it).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path


class PathEscape(ValueError):
    """A path built from untrusted parts would leave its root; the message names the part."""


def resolved(path: Path) -> Path | None:
    """``path`` with every link followed, or None when the links loop."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return None


def is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved) is ``root`` (resolved) or below it."""
    target, base = resolved(path), Path(root).resolve()
    return target is not None and (target == base or base in target.parents)


def contained(root: Path, *parts: str, what: str = "path") -> Path:
    """``root / parts`` if it stays under ``root`` after resolving ``..`` and links, else ``PathEscape``."""
    for part in parts:
        if not isinstance(part, str) or not part or "\0" in part:
            raise PathEscape(f"{what} {part!r} is not a usable path part")
    candidate = Path(root).joinpath(*parts)
    if any(Path(part).is_absolute() for part in parts) or not is_within(candidate, root):
        raise PathEscape(f"{what} {'/'.join(parts)!r} leads outside {Path(root).name}/")
    return candidate


def container_path(path: str, mount: str, what: str) -> str:
    """The part of an absolute container path below ``mount`` (``/opt/ml``), normalised; refuses
    relative paths and ones that leave ``mount`` once ``.`` and ``..`` are applied."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise PathEscape(f"{what} {path!r} must be an absolute path under {mount}/")
    normal = posixpath.normpath(path)
    if not normal.startswith(mount.rstrip("/") + "/"):
        raise PathEscape(f"{what} {path!r} must be under {mount}/ (it resolves to {normal})")
    return normal[len(mount.rstrip("/")) + 1 :]


class EscapingLink(Exception):
    """A symbolic link in an upload points outside the folder its program owned."""

    def __init__(self, shown: str, target: Path, where: str):
        super().__init__(
            f"{shown} is a symbolic link to {target}, outside {where}; links are resolved on the "
            "local cloud's host, where that path is not the file the program saw: copy the file "
            f"instead of linking it, or link relatively to a file inside {where}"
        )
        self.shown, self.target = shown, target


def files_within(folder: Path, owned: Path) -> Iterator[tuple[Path, str, Path | None]]:
    """(real file to read, path relative to ``folder``, escaping link target or None) for each file.

    A link to a file under ``owned`` (the folder mounted into the sandbox) yields that file's real
    path, so the upload reads what the program saw. A link whose target leaves ``owned`` yields
    the target as the third item and nothing to read: the caller skips or fails it (each says
    why). Directory links are not descended (a loop would never end), as ``Path.rglob`` does not.
    """
    owned = owned.resolve()
    for directory, subdirs, names in os.walk(folder):
        base = Path(directory)
        for name in sorted(subdirs):
            entry = base / name
            if entry.is_symlink() and not is_within(entry, owned):
                yield entry, entry.relative_to(folder).as_posix(), resolved(entry) or Path(os.readlink(entry))
        subdirs.sort()
        for name in sorted(names):
            entry = base / name
            relative = entry.relative_to(folder).as_posix()
            if not entry.is_symlink():
                if entry.is_file():
                    yield entry, relative, None
                continue
            target = resolved(entry)
            if target is None or not is_within(target, owned):
                yield entry, relative, target or Path(os.readlink(entry))
            elif target.is_file():
                yield target, relative, None
