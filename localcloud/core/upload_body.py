"""An S3 upload's body, streamed from the connection into a body file and checked on the way.

PutObject and UploadPart bodies (up to 5 GiB) never sit in memory: the gateway admits the request
on its signed headers (``signatures.verify`` with the body still on the wire), then copies the
body in pieces to a new file in the S3 bodies folder while computing what it must be held to:

- the signed payload hash: a SHA-256 hex (boto3 over HTTP), ``UNSIGNED-PAYLOAD`` (presigned URLs,
  SigV2), or aws-chunked framing, ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`` (every chunk's
  signature continues the request's, and the trailer's continues the last chunk's) or
  ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` (the AWS CLI and boto3 over HTTPS);
- ``Content-MD5`` and the ``x-amz-checksum-*`` value the client sent (a header or a trailer), as S3
  checks them (``BadDigest``); CRC32C and CRC64NVME are passed on unchecked, as moto does;
- the MD5 that becomes the object's ETag, and the checksum a client asked for without a value.

A body that fails any of these is refused and its file removed before the answer, so nothing of it
is left behind; one that passes is fsynced before moto sees it, and moto's key takes the file as
its body (``moto_seam/s3_bodies.StagedBody``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from localcloud.core.signatures import Signed

PIECE = 1024 * 1024
MAX_LINE = 4096  # a chunk head or trailer line
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SIGNED_CHUNKS = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
UNSIGNED_CHUNKS = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
CHECKED_CHECKSUMS = ("CRC32", "SHA1", "SHA256")  # what S3 verifies and we can compute without extra libraries
SUBRESOURCES_STREAMED = frozenset({"partNumber", "uploadId", "x-id"})


class BodyRefused(Exception):
    """The body is not what the request said it would be; ``code``/``status`` are S3's for it."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def streams(method: str, path: str, query: str, headers: dict[str, str]) -> bool:
    """Is this an S3 object upload (PutObject or UploadPart) whose body is to be streamed to disk?

    Path-style only (``/bucket/key``, as the local cloud's clients address it); a copy carries no body,
    and sub-resources (``?acl``, ``?tagging``...) have small XML bodies that moto parses.
    """
    if method != "PUT" or "x-amz-copy-source" in headers:
        return False
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        return False
    names = {item.partition("=")[0] for item in query.split("&") if item}
    return names <= SUBRESOURCES_STREAMED


class _ChunkChain:
    """The signatures of a chunk-signed body: each chunk's continues the one before it."""

    def __init__(self, signed: Signed):
        self.signed = signed
        self.previous = signed.signature

    def _sign(self, to_sign: str) -> str:
        return hmac.new(self.signed.signing_key, to_sign.encode(), hashlib.sha256).hexdigest()

    def check_chunk(self, data_sha256: str, given: str) -> None:
        head = f"AWS4-HMAC-SHA256-PAYLOAD\n{self.signed.timestamp}\n{self.signed.scope}\n{self.previous}"
        self._check(self._sign(f"{head}\n{EMPTY_SHA256}\n{data_sha256}"), given)

    def check_trailer(self, trailer: bytes, given: str) -> None:
        head = f"AWS4-HMAC-SHA256-TRAILER\n{self.signed.timestamp}\n{self.signed.scope}\n{self.previous}"
        self._check(self._sign(f"{head}\n{hashlib.sha256(trailer).hexdigest()}"), given)

    def _check(self, expected: str, given: str) -> None:
        if not hmac.compare_digest(expected, given):
            raise BodyRefused(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided "
                "(a chunk of the aws-chunked body).",
                403,
            )
        self.previous = given


class AwsChunked:
    """aws-chunked framing, decoded as it arrives: ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n``
    chunks, a last chunk of size 0, then trailer lines (``x-amz-checksum-crc32:...``) and an empty line."""

    def __init__(self, chain: _ChunkChain | None, signed_trailer: bool):
        self.chain, self.signed_trailer = chain, signed_trailer
        self.trailers: dict[str, str] = {}
        self._trailer_text = bytearray()
        self._trailer_signature = ""
        self._state = "head"
        self._line = bytearray()
        self._remaining = 0
        self._signature = ""
        self._hash = None

    def feed(self, data: bytes) -> list[memoryview]:
        """The payload bytes in ``data`` (views into it), parsing the framing around them."""
        out, view, position = [], memoryview(data), 0
        while position < len(view):
            if self._state == "done":
                raise BodyRefused("IncompleteBody", "bytes follow the end of the aws-chunked body")
            if self._state == "data":
                take = min(self._remaining, len(view) - position)
                piece = view[position : position + take]
                out.append(piece)
                if self._hash is not None:
                    self._hash.update(piece)
                position += take
                self._remaining -= take
                if not self._remaining:
                    self._state = "crlf"
                continue
            end = data.find(b"\n", position)
            if end < 0:
                self._line += view[position:]
                position = len(view)
                if len(self._line) > MAX_LINE:
                    raise BodyRefused("IncompleteBody", "an aws-chunked line is longer than 4096 bytes")
                continue
            self._line += view[position : end + 1]
            position = end + 1
            line, self._line = bytes(self._line), bytearray()
            self._take_line(line)
        return out

    def _take_line(self, line: bytes) -> None:
        if not line.endswith(b"\r\n"):
            raise BodyRefused("IncompleteBody", "an aws-chunked line does not end with CRLF")
        text = line[:-2].decode("latin-1")
        if self._state == "crlf":
            if text:
                raise BodyRefused("IncompleteBody", "an aws-chunked chunk is longer than its declared size")
            self._end_chunk()
            self._state = "head"
        elif self._state == "head":
            size, _, extension = text.partition(";")
            try:
                self._remaining = int(size, 16)
            except ValueError:
                raise BodyRefused("IncompleteBody", f"an aws-chunked chunk size {size[:20]!r} is not hex") from None
            name, _, self._signature = extension.partition("=")
            if self.chain is not None and name != "chunk-signature":
                raise BodyRefused("IncompleteBody", "a chunk of a signed aws-chunked body has no chunk-signature")
            self._hash = hashlib.sha256() if self.chain is not None else None
            if self._remaining:
                self._state = "data"
            else:
                self._end_chunk()
                self._state = "trailer"
        elif self._state == "trailer":
            if not text:
                self._state = "done"
                return
            name, _, value = text.partition(":")
            name = name.strip().lower()
            if name == "x-amz-trailer-signature":
                self._trailer_signature = value.strip()
            else:
                self.trailers[name] = value.strip()
                self._trailer_text += f"{name}:{value.strip()}\n".encode("latin-1")

    def _end_chunk(self) -> None:
        if self.chain is not None:
            self.chain.check_chunk(self._hash.hexdigest(), self._signature)

    def finish(self) -> None:
        if self._state != "done":
            raise BodyRefused("IncompleteBody", "the aws-chunked body ended before its last chunk")
        if self.chain is not None and self.signed_trailer:
            if not self._trailer_signature:
                raise BodyRefused("IncompleteBody", "the body's trailer has no x-amz-trailer-signature")
            self.chain.check_trailer(bytes(self._trailer_text), self._trailer_signature)


def running_checksum(algorithm: str):
    """A running checksum as moto computes it (CRC32C and CRC64NVME fall back to CRC32 without their
    optional libraries, as moto's ``compute_checksum`` does)."""
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "SHA256":
        return hashlib.sha256()
    return _Crc32()


class _Crc32:
    def __init__(self):
        self.value = 0

    def update(self, data) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


@dataclass
class Received:
    """A body streamed to its file: what moto is told about it."""

    path: Path
    size: int
    md5: str
    headers: dict[str, str] = field(default_factory=dict)  # checksum headers for moto (from a trailer, or computed)
    checksums: dict[str, bytes] = field(default_factory=dict)  # algorithm -> digest, as computed on the way


def receive(source: BinaryIO, folder: Path, headers: dict[str, str], signed: Signed | None, limit: int) -> Received:
    """Copy the body from ``source`` to a new file in ``folder``, checking it; the file is removed if refused."""
    declared = (signed.payload if signed else None) or "UNSIGNED-PAYLOAD"
    for name in ("content-length", "x-amz-decoded-content-length"):
        if headers.get(name, "").isdigit() and int(headers[name]) > limit:  # refused before a byte is read
            raise BodyRefused(
                "EntityTooLarge", f"Your proposed upload exceeds the maximum allowed size of {limit} bytes", 413
            )
    chunked = declared.startswith("STREAMING-") or "aws-chunked" in headers.get("content-encoding", "")
    if declared.startswith("STREAMING-") and declared not in (*SIGNED_CHUNKS, UNSIGNED_CHUNKS):
        raise BodyRefused("InvalidArgument", f"x-amz-content-sha256 {declared!r} is not a payload encoding S3 takes")
    decoder = None
    if chunked:
        chain = _ChunkChain(signed) if declared in SIGNED_CHUNKS else None
        decoder = AwsChunked(chain, declared.endswith("-TRAILER"))
    whole_sha256 = hashlib.sha256() if not declared.startswith(("STREAMING-", "UNSIGNED-PAYLOAD")) else None
    md5 = hashlib.md5(usedforsecurity=False)
    algorithm = headers.get("x-amz-sdk-checksum-algorithm", "").upper()
    trailer_names = [name.strip().lower() for name in headers.get("x-amz-trailer", "").split(",") if name.strip()]
    named = [
        name
        for name in (*trailer_names, *headers)
        if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-type"
    ]
    if not algorithm and named:  # a checksum sent without naming its algorithm
        algorithm = named[0].removeprefix("x-amz-checksum-").upper()
    checksum = running_checksum(algorithm) if algorithm else None
    path = folder / uuid.uuid4().hex
    size = 0
    try:
        with open(path, "wb") as handle:
            while data := source.read(PIECE):
                pieces = decoder.feed(data) if decoder is not None else (data,)
                for piece in pieces:
                    size += len(piece)
                    if size > limit:
                        raise BodyRefused(
                            "EntityTooLarge",
                            f"Your proposed upload exceeds the maximum allowed size of {limit} bytes",
                            413,
                        )
                    handle.write(piece)
                    md5.update(piece)
                    if whole_sha256 is not None:
                        whole_sha256.update(piece)
                    if checksum is not None:
                        checksum.update(piece)
            if decoder is not None:
                decoder.finish()
            _check_length(headers, size, chunked)
            if whole_sha256 is not None and whole_sha256.hexdigest() != declared:
                raise BodyRefused(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
            found = _check_digests(headers, decoder.trailers if decoder else {}, md5, algorithm, checksum)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(path, size, md5.hexdigest(), found, {algorithm: checksum.digest()} if checksum else {})


def _check_length(headers: dict[str, str], size: int, chunked: bool) -> None:
    name = "x-amz-decoded-content-length" if chunked else "content-length"
    declared = headers.get(name, "")
    if declared.isdigit() and int(declared) != size:
        raise BodyRefused(
            "IncompleteBody", f"You did not provide the number of bytes specified by the {name} header ({declared})"
        )


def _check_digests(headers, trailers, md5, algorithm: str, checksum) -> dict[str, str]:
    """Content-MD5 and the x-amz-checksum-* value, as S3 checks them; the checksum header moto gets."""
    given_md5 = headers.get("content-md5")
    if given_md5 and given_md5 != base64.b64encode(md5.digest()).decode():
        raise BodyRefused("BadDigest", "The Content-MD5 you specified did not match what we received.")
    if not algorithm:
        return {}
    name = f"x-amz-checksum-{algorithm.lower()}"
    given = headers.get(name) or trailers.get(name)
    computed = base64.b64encode(checksum.digest()).decode()
    if given and algorithm in CHECKED_CHECKSUMS and given != computed:
        raise BodyRefused("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
    return {name: given or computed, "x-amz-sdk-checksum-algorithm": algorithm}
