"""S3 object bodies as files in the state folder, never in the snapshot, and never whole in memory.

moto keeps each object's bytes in the key (a spooled temporary file) and pickles them with its
backend, so every snapshot rewrote every byte stored: a 100-byte PUT cost 1.4 s with 260 MB held.
Here a body is a file, ``<state>/s3/bodies/<id>``; the snapshot keeps only the id. A PutObject or
UploadPart body arrives as one already: the gateway streams it there (``core/upload_body.py``) and
moto's key takes the file as it is (``StagedBody``). A completed multipart upload is its parts'
files in order, nothing copied. A body moto made in memory (a copy, a body too small to stream) is
written the first time a snapshot meets its key. Keys read their bodies from the files, so the
local cloud's memory does not grow with what it stores, and a restart does not load any body.

Bodies are immutable once written (a PUT, copy or completed upload makes a new key); if moto ever
sets a key's value again, the key forgets its file and the next snapshot writes a new one.
Files no key refers to any more are removed when the state is restored.
"""

from __future__ import annotations

import ctypes
import hashlib
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


def folder() -> Path:
    """The bodies folder of the state this process serves."""
    return _folder()


def _folder() -> Path:
    if not _ROOT:
        raise RuntimeError("no state folder is set for S3 bodies (use_folder was not called)")
    return _ROOT[0]


Segments = tuple  # ((body id, size), ...): a body is one file, or a completed upload's parts in order


class BodyFile:
    """A key's body, read from its file(s) on demand: the file-like subset moto's FakeKey uses.

    Nothing stays open: each read opens, seeks and closes, so a million keys cost no descriptors.
    A completed multipart upload's body is its parts' files in order (nothing is copied).
    A write (moto setting the value anew) turns it into an ordinary spooled buffer.
    """

    def __init__(self, segments: Segments | str):
        if isinstance(segments, str):  # one file, its size read when needed
            segments = ((segments, -1),)
        self.segments = tuple(segments)
        self._position = 0
        self._replaced: Any = None

    @property
    def body_id(self) -> str:
        return self.segments[0][0]

    @property
    def path(self) -> Path:
        return _folder() / self.body_id

    def pieces(self) -> list[tuple[Path, int]]:
        """Each file and its size."""
        folder = _folder()
        return [(folder / name, size if size >= 0 else (folder / name).stat().st_size) for name, size in self.segments]

    @property
    def size(self) -> int:
        return sum(size for _, size in self.pieces())

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._replaced is not None:
            return self._replaced.seek(offset, whence)
        if whence == os.SEEK_END:
            offset += self.size
        elif whence == os.SEEK_CUR:
            offset += self._position
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._replaced.tell() if self._replaced is not None else self._position

    def read(self, size: int = -1) -> bytes:
        if self._replaced is not None:
            return self._replaced.read(size)
        pieces = self.pieces()
        total = sum(length for _, length in pieces)
        stop = total if size is None or size < 0 else min(total, self._position + size)
        data = read_range(pieces, self._position, stop)
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


def read_range(pieces: list[tuple[Path, int]], start: int, stop: int) -> bytes:
    """Bytes ``start:stop`` of the files ``pieces`` make together."""
    out, offset = bytearray(), 0
    for path, size in pieces:
        if offset + size > start and offset < stop:
            with open(path, "rb") as handle:
                handle.seek(max(0, start - offset))
                out += handle.read(min(size, stop - offset) - max(0, start - offset))
        offset += size
    return bytes(out)


class StagedBody:
    """A body already in the bodies folder (an upload the gateway streamed there, or a completed
    multipart upload's parts), handed to moto in place of bytes: the key that is made from it takes
    its file(s) as its body, and ``claimed`` says one did (else the caller removes the file)."""

    def __init__(self, segments: Segments, md5: str | None, checksums: dict[str, bytes] | None = None):
        self.segments = tuple(segments)
        self.size = sum(size for _, size in self.segments)
        self.md5 = md5
        self.checksums = dict(checksums or {})  # algorithm -> digest, computed as it streamed in
        self.claimed = False

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:  # moto writes ``body or b""``: an empty staged body is still the body
        return True

    def __bytes__(self) -> bytes:
        return read_range([(_folder() / name, size) for name, size in self.segments], 0, self.size)


CHECKSUMS = "_lc_checksums"  # on a key: the checksums its body was streamed with (a part's, for its upload's)


def staged(path: Path, size: int, md5: str, checksums: dict[str, bytes] | None = None) -> StagedBody:
    """A file streamed into the bodies folder, as moto's next key will take it."""
    if path.parent != _folder():
        raise ValueError(f"{path} is not in the S3 bodies folder {_folder()}")
    return StagedBody(((path.name, size),), md5, checksums)


def _copy_into(source, target: Path) -> None:
    """Stream a key's buffer into a new body file, made whole before it gets its name."""
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as handle:
        source.seek(0)
        shutil.copyfileobj(source, handle, CHUNK)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def segments_of(key: Any) -> Segments:
    """The file(s) of ``key``'s body, writing its file the first time (under the key's own lock)."""
    with key.lock:
        buffer = key._value_buffer
        if isinstance(buffer, BodyFile) and buffer._replaced is None:
            return buffer.segments
        body_id = uuid.uuid4().hex
        _copy_into(buffer, _folder() / body_id)
        size = (_folder() / body_id).stat().st_size
        key._value_buffer = BodyFile(((body_id, size),))  # memory is freed; reads come from the file
        buffer.close()
        if (key.contentsize or 0) >= RETURN_MEMORY_AFTER:
            _return_freed_memory()
        return key._value_buffer.segments


RETURN_MEMORY_AFTER = 64 * 1024 * 1024


def _return_freed_memory() -> None:
    """Hand the memory a big upload passed through back to the system (glibc keeps freed heap otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the memory is reused by the process instead


def key_state(key: Any) -> dict[str, Any]:
    state = {k: v for k, v in key.__dict__.items() if k not in ("_value_buffer", "lock", "_lc_store")}
    state["_body_segments"] = segments_of(key)
    return state


def restore_key(cls: type, state: dict[str, Any]) -> Any:
    key = cls.__new__(cls)
    segments = state.pop("_body_segments", None) or ((state.pop("_body_id"), -1),)
    _RESTORED.update(name for name, _ in segments)
    key.__dict__.update(state)
    key._value_buffer = BodyFile(segments)
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
    """A stored body as GetObject hands it out: its length, a slice of it (what a Range request takes,
    itself lazy), or chunks as the response is sent, never the whole object (or range) in memory."""

    def __init__(self, pieces: list[tuple[Path, int]], start: int = 0, stop: int | None = None):
        self.pieces = pieces
        total = sum(size for _, size in pieces)
        self.start, self.stop = start, total if stop is None else stop
        self.size = self.stop - self.start

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __getitem__(self, item: slice) -> LazyBody:
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("a stored body is read by contiguous slices only")
        start, stop, _ = item.indices(self.size)
        return LazyBody(self.pieces, self.start + start, self.start + max(start, stop))

    def __bytes__(self) -> bytes:
        return read_range(self.pieces, self.start, self.stop)

    def __iter__(self):
        offset = 0
        for path, size in self.pieces:
            begin, end = max(self.start, offset), min(self.stop, offset + size)
            if begin < end:
                with open(path, "rb") as handle:
                    handle.seek(begin - offset)
                    left = end - begin
                    while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                        left -= len(chunk)
                        yield chunk
            offset += size


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


def value_kept_in_files(value: property) -> property:
    """FakeKey.value: while GetObject runs, a file-backed body is a LazyBody; a StagedBody set as the
    value becomes the key's body file(s) as it is, with the MD5 streamed along as its ETag."""

    def getter(key):
        buffer = key._value_buffer
        if getattr(_SERVING, "active", False) and isinstance(buffer, BodyFile) and buffer._replaced is None:
            return LazyBody(buffer.pieces())
        return value.fget(key)

    def setter(key, new_value):
        if not isinstance(new_value, StagedBody):
            return value.fset(key, new_value)
        if new_value.claimed:
            raise RuntimeError("a staged S3 body is the body of one key only")
        key._value_buffer.close()
        key._value_buffer = BodyFile(new_value.segments)
        key.contentsize = new_value.size
        if key.__dict__.get("_etag") is None and new_value.md5:
            key._etag = new_value.md5
        if new_value.checksums:
            setattr(key, CHECKSUMS, new_value.checksums)
        new_value.claimed = True

    return property(getter, setter)


STAGED_ENVIRON_KEY = "localcloud.s3.staged_body"


def taking_staged_bodies(setup_class):
    """S3Response.setup_class: the body of a streamed upload is the StagedBody the gateway left in the
    request's environ (moto was handed an empty input), not bytes read from it."""

    def setup(self, request, full_url=None, headers=None):
        setup_class(self, request, full_url, headers)
        found = getattr(request, "environ", {}).get(STAGED_ENVIRON_KEY)
        if found is not None:
            self.body = self.raw_body = found

    return setup


def completed_from_part_files(complete):
    """FakeMultipart.complete: the object is its parts' files in order (a StagedBody), never the parts
    joined in memory; ETag and checksums as moto computes them, reading each part's file in pieces."""
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
    from moto.s3.models import S3_UPLOAD_PART_MIN_SIZE

    def complete_from_files(self, body):
        algorithm = (self.metadata.get("x-amz-checksum-algorithm") or "CRC64NVME").upper()
        kind = self.metadata.get("x-amz-checksum-type") or ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")
        md5s, segments, part_sums = bytearray(), [], bytearray()
        whole = _running_checksum(algorithm)
        last = None
        for number, etag in body:
            part = self.parts.get(number)
            if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
                raise InvalidPart()
            if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
                raise EntityTooSmall()
            md5s += bytes.fromhex(part.etag.replace('"', ""))
            part_segments = segments_of(part)
            segments += part_segments
            recorded = part.__dict__.get(CHECKSUMS, {}).get(algorithm) if kind == "COMPOSITE" else None
            if recorded is not None:  # computed as the part streamed in: not read again
                part_sums += recorded
                last = part
                continue
            running = _running_checksum(algorithm) if kind == "COMPOSITE" else whole
            for chunk in LazyBody(BodyFile(part_segments).pieces()):
                running.update(chunk)
            if kind == "COMPOSITE":
                part_sums += running.digest()
            last = part
        if last is None:
            raise MalformedXML
        import base64

        if kind == "COMPOSITE":
            total = _running_checksum(algorithm)
            total.update(bytes(part_sums))
            details = (kind, base64.b64encode(total.digest()).decode(), len(md5s) // 16)
        else:
            details = (kind, base64.b64encode(whole.digest()).decode(), 1)
        etag = f"{hashlib.md5(bytes(md5s), usedforsecurity=False).hexdigest()}-{len(md5s) // 16}"
        sized = tuple((name, size if size >= 0 else (_folder() / name).stat().st_size) for name, size in segments)
        return StagedBody(sized, None), etag, details

    return complete_from_files


def _running_checksum(algorithm: str):
    from localcloud.core.upload_body import running_checksum

    return running_checksum(algorithm)


def install() -> None:
    from moto.s3.models import FakeKey, FakeMultipart
    from moto.s3.responses import S3Response

    from localcloud.core import moto_seam

    until = "moto streaming object bodies from storage instead of holding them as bytes"
    moto_seam.patch(
        S3Response,
        "setup_class",
        wrap=taking_staged_bodies,
        why="a PutObject or UploadPart body the gateway streamed to a file reaches moto as that file",
        until=until,
    )
    moto_seam.patch(
        FakeMultipart,
        "complete",
        wrap=completed_from_part_files,
        why="CompleteMultipartUpload makes the object of its parts' files, without joining them in memory",
        until=until,
    )
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
        wrap=value_kept_in_files,
        why="while GetObject runs, a file-backed key's value is a LazyBody (length, slices, chunks); a streamed "
        "upload set as the value becomes the key's body file as it is",
        until=until,
    )
