"""S3 object bodies as files in the state folder, never in the snapshot.

moto keeps each object's bytes in the key (a spooled temporary file) and pickles them with its
backend, so every snapshot rewrote every byte stored: a 100-byte PUT cost 1.4 s with 260 MB held.
Here a key's body is written once, to ``<state>/s3/bodies/<id>``, the first time a snapshot meets
the key; the snapshot keeps only the id. The key then reads its body from that file, so the local
cloud's memory does not grow with what it stores either, and a restart does not load any body.

Bodies are immutable once written (a PUT, copy or completed upload makes a new key); if moto ever
sets a key's value again, the key forgets its file and the next snapshot writes a new one.
Files no key refers to any more are removed when the state is restored.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

CHUNK = 1024 * 1024
_ROOT: list[Path] = []  # the bodies folder of the state this process serves (one, as moto's backends)
_RESTORED: set[str] = set()  # the bodies the keys of the last restore refer to


def use_folder(state_root: Path) -> Path:
    folder = Path(state_root) / "s3" / "bodies"
    folder.mkdir(parents=True, exist_ok=True)
    _ROOT[:] = [folder]
    _RESTORED.clear()  # what the next restore refers to, and nothing an earlier cloud did
    return folder


def _folder() -> Path:
    if not _ROOT:
        raise RuntimeError("no state folder is set for S3 bodies (use_folder was not called)")
    return _ROOT[0]


class BodyFile:
    """A key's body, read from its file on demand: the file-like subset moto's FakeKey uses.

    Nothing stays open: each read opens, seeks and closes, so a million keys cost no descriptors.
    A write (moto setting the value anew) turns it into an ordinary spooled buffer.
    """

    def __init__(self, body_id: str):
        self.body_id = body_id
        self._position = 0
        self._replaced: Any = None

    @property
    def path(self) -> Path:
        return _folder() / self.body_id

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._replaced is not None:
            return self._replaced.seek(offset, whence)
        if whence == os.SEEK_END:
            offset += self.path.stat().st_size
        elif whence == os.SEEK_CUR:
            offset += self._position
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._replaced.tell() if self._replaced is not None else self._position

    def read(self, size: int = -1) -> bytes:
        if self._replaced is not None:
            return self._replaced.read(size)
        with open(self.path, "rb") as handle:
            handle.seek(self._position)
            data = handle.read() if size is None or size < 0 else handle.read(size)
        self._position += len(data)
        return data

    def _writable(self):
        if self._replaced is None:
            self._replaced = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        return self._replaced

    def truncate(self, size: int | None = None) -> int:
        return self._writable().truncate(size)

    def write(self, data: bytes) -> int:
        return self._writable().write(data)

    def close(self) -> None:
        if self._replaced is not None:
            self._replaced.close()


def _copy_into(source, target: Path) -> None:
    """Stream a key's buffer into a new body file, made whole before it gets its name."""
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as handle:
        source.seek(0)
        shutil.copyfileobj(source, handle, CHUNK)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def body_id_of(key: Any) -> str:
    """The id of ``key``'s body file, writing the file the first time (under the key's own lock)."""
    with key.lock:
        buffer = key._value_buffer
        if isinstance(buffer, BodyFile) and buffer._replaced is None:
            return buffer.body_id
        body_id = uuid.uuid4().hex
        _copy_into(buffer, _folder() / body_id)
        key._value_buffer = BodyFile(body_id)  # memory is freed; reads come from the file
        buffer.close()
        if (key.contentsize or 0) >= RETURN_MEMORY_AFTER:
            _return_freed_memory()
        return body_id


RETURN_MEMORY_AFTER = 64 * 1024 * 1024


def _return_freed_memory() -> None:
    """Hand the memory a big upload passed through back to the system (glibc keeps freed heap otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the memory is reused by the process instead


def key_state(key: Any) -> dict[str, Any]:
    state = {k: v for k, v in key.__dict__.items() if k not in ("_value_buffer", "lock", "_lc_store")}
    state["_body_id"] = body_id_of(key)
    return state


def restore_key(cls: type, state: dict[str, Any]) -> Any:
    key = cls.__new__(cls)
    body_id = state.pop("_body_id")
    _RESTORED.add(body_id)
    key.__dict__.update(state)
    key._value_buffer = BodyFile(body_id)
    key.lock = threading.Lock()
    return key


def remove_unreferenced(referenced: set[str] | None = None) -> int:
    """Delete body files no restored key refers to (objects deleted since they were written)."""
    referenced = _RESTORED if referenced is None else referenced
    removed = 0
    for path in _folder().iterdir():
        if path.name not in referenced and not path.name.startswith("."):
            path.unlink(missing_ok=True)
            removed += 1
        elif path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)  # a copy cut off by a crash; its key was never acknowledged
    return removed


class LazyBody:
    """A stored body as GetObject hands it out: its length, a slice read from the file (what a Range
    request takes), or chunks as the response is sent, never the whole object in memory."""

    def __init__(self, path: Path, size: int):
        self.path = path
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __getitem__(self, item: slice) -> bytes:
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("a stored body is read by contiguous slices only")
        start, stop, _ = item.indices(self.size)
        with open(self.path, "rb") as handle:
            handle.seek(start)
            return handle.read(max(0, stop - start))

    def __iter__(self):
        with open(self.path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


_SERVING = threading.local()


def serving_lazily(get_object):
    """moto's GetObject, handing out a file-backed key's body as a LazyBody instead of reading it whole
    (moto read the whole object for every ranged GET, so a parallel download of 1 GB read it ~128 times)."""

    def lazy_get_object(self, *args, **kwargs):
        _SERVING.active = True
        try:
            return get_object(self, *args, **kwargs)
        finally:
            _SERVING.active = False

    return lazy_get_object


def value_served_lazily(value: property) -> property:
    def getter(key):
        buffer = key._value_buffer
        if getattr(_SERVING, "active", False) and isinstance(buffer, BodyFile) and buffer._replaced is None:
            return LazyBody(buffer.path, key.contentsize if key.contentsize is not None else buffer.path.stat().st_size)
        return value.fget(key)

    return property(getter, value.fset)


def install() -> None:
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    from localcloud.core import moto_seam

    until = "moto streaming object bodies from storage instead of holding them as bytes"
    moto_seam.patch(
        S3Response,
        "get_object",
        wrap=serving_lazily,
        why="GetObject streams a stored body and reads only the requested range of it",
        until=until,
    )
    moto_seam.patch(
        FakeKey,
        "value",
        wrap=value_served_lazily,
        why="while GetObject runs, a file-backed key's value is a LazyBody (length, slices, chunks)",
        until=until,
    )
