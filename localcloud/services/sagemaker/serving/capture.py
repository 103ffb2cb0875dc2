"""Endpoint data capture: sampled requests and responses as JSON Lines in S3, as SageMaker writes them.

An endpoint configuration's ``DataCaptureConfig`` turns it on. Each sampled invocation becomes one
line ``{"captureData": {"endpointInput": ..., "endpointOutput": ...}, "eventMetadata": ...,
"eventVersion": "0"}`` in an object under
``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl`` (UTC), the layout
Model Monitor reads. Invocations only append to an in-memory buffer; one background thread writes the
buffer to S3 every few seconds, and at once when an endpoint is deleted or updated or the local cloud
stops, so capture costs an invocation next to nothing. A destination that cannot be written (no such
bucket) loses those records, as on AWS, and says so in the log and the endpoint's log stream.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("localcloud.services.sagemaker.serving.capture")

FLUSH_SECONDS = 5.0  # how long a captured record may wait in memory before it is written
FLUSH_AT_BYTES = 8 * 1024 * 1024  # write early once this much is waiting
MAX_BUFFERED_BYTES = 256 * 1024 * 1024  # beyond this, records are dropped (and the drop reported)
DEFAULT_CONTENT_TYPE = "application/octet-stream"  # what SageMaker assumes when a request names none
CAPTURE_MODES = {"Input": (True, False), "Output": (False, True), "InputAndOutput": (True, True)}

Key = tuple[str, str, str]  # account, region, endpoint name
Notify = Callable[[Key, str, str], None]  # (endpoint key, variant, message): where write failures go


class CaptureConfigError(ValueError):
    """A DataCaptureConfig that cannot be honoured; the message names the field and the fix."""


@dataclass(frozen=True)
class CaptureSettings:
    """What an endpoint configuration asks to capture, checked once at deployment."""

    destination: str  # s3://bucket[/prefix], no trailing slash
    percentage: int
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str] = frozenset()
    json_types: frozenset[str] = frozenset()


def settings(config: dict[str, Any] | None) -> CaptureSettings | None:
    """The capture an endpoint configuration's ``DataCaptureConfig`` asks for; None when it is off."""
    if not config or config.get("EnableCapture", True) is False:
        return None  # EnableCapture defaults to true when the config is given, as in the API
    if config.get("EnableCapture", True) is not True:
        raise CaptureConfigError(f"EnableCapture is {config['EnableCapture']!r}: use true or false")
    destination = config.get("DestinationS3Uri")
    if not isinstance(destination, str) or not destination.startswith("s3://") or len(destination) <= len("s3://"):
        raise CaptureConfigError(
            f"DestinationS3Uri is {destination!r}: give the S3 prefix that receives captures, "
            "like s3://my-bucket/datacapture"
        )
    percentage = config.get("InitialSamplingPercentage")
    if isinstance(percentage, bool) or not isinstance(percentage, int) or not 0 <= percentage <= 100:
        raise CaptureConfigError(
            f"InitialSamplingPercentage is {percentage!r}: give a whole number from 0 to 100 (the share of "
            "requests to capture)"
        )
    capture_input = capture_output = False
    options = config.get("CaptureOptions")
    if not isinstance(options, list) or not options:
        raise CaptureConfigError(
            'CaptureOptions is missing or empty: list what to capture, like [{"CaptureMode": "Input"}, '
            '{"CaptureMode": "Output"}]'
        )
    for option in options:
        mode = option.get("CaptureMode") if isinstance(option, dict) else None
        if mode not in CAPTURE_MODES:
            raise CaptureConfigError(
                f"CaptureOptions has CaptureMode {mode!r}: use one of {', '.join(sorted(CAPTURE_MODES))}"
            )
        wants_input, wants_output = CAPTURE_MODES[mode]
        capture_input, capture_output = capture_input or wants_input, capture_output or wants_output
    header = config.get("CaptureContentTypeHeader") or {}
    return CaptureSettings(
        destination=destination.rstrip("/"),
        percentage=percentage,
        capture_input=capture_input,
        capture_output=capture_output,
        csv_types=_media_types(header.get("CsvContentTypes")),
        json_types=_media_types(header.get("JsonContentTypes")),
    )


def _media_types(types: list[str] | None) -> frozenset[str]:
    return frozenset(_media_type(t) for t in types or [] if isinstance(t, str))


def _media_type(content_type: str) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``: the part a capture content type is matched on."""
    return content_type.split(";", 1)[0].strip().lower()


class Sampler:
    """Decides which invocations are captured: 100 % all, 0 % none, otherwise at random (seedable)."""

    def __init__(self, rng: random.Random | None = None):
        self._rng = rng or random.Random()

    def take(self, percentage: int) -> bool:
        if percentage >= 100:
            return True
        if percentage <= 0:
            return False
        return self._rng.random() * 100 < percentage


# one captured invocation and how it is written -----------------------------------------------
@dataclass
class Captured:
    settings: CaptureSettings
    time: float  # seconds since the epoch, when the invocation was answered
    input: bytes | None
    input_type: str
    output: bytes | None
    output_type: str
    inference_id: str | None = None

    @property
    def size(self) -> int:
        return len(self.input or b"") + len(self.output or b"")


def encoded(data: bytes, content_type: str, mode: str, settings_: CaptureSettings) -> dict[str, str]:
    """One side of an invocation as SageMaker records it: text for the configured CSV and JSON content
    types (when it is UTF-8), base64 for everything else."""
    media = _media_type(content_type)
    encoding = "CSV" if media in settings_.csv_types else "JSON" if media in settings_.json_types else "BASE64"
    text = None
    if encoding != "BASE64":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if text is None:
        text = base64.b64encode(data).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def line(event: Captured) -> str:
    """The JSON Lines record of one captured invocation."""
    data: dict[str, Any] = {}
    if event.input is not None:
        data["endpointInput"] = encoded(event.input, event.input_type, "INPUT", event.settings)
    if event.output is not None:
        data["endpointOutput"] = encoded(event.output, event.output_type, "OUTPUT", event.settings)
    metadata = {
        "eventId": str(uuid.uuid4()),
        "inferenceTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.time)),
    }
    if event.inference_id:
        metadata["inferenceId"] = event.inference_id
    return json.dumps({"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}, separators=(",", ":"))


def object_location(destination: str, endpoint: str, variant: str, first: float) -> tuple[str, str]:
    """(bucket, key) of a capture file whose first record was answered at ``first``."""
    bucket, _, prefix = destination[len("s3://") :].partition("/")
    moment = time.gmtime(first)
    millis = int(first * 1000) % 1000
    name = f"{time.strftime('%M-%S', moment)}-{millis:03d}-{uuid.uuid4()}.jsonl"
    folder = f"{endpoint}/{variant}/{time.strftime('%Y/%m/%d/%H', moment)}"
    return bucket, f"{prefix}/{folder}/{name}" if prefix else f"{folder}/{name}"


# the buffer and its writer -----------------------------------------------------------------------
class CaptureWriter:
    """Buffers captured invocations per endpoint variant; one thread writes them to S3."""

    def __init__(
        self,
        s3: Callable[[], Any],
        notify: Notify,
        flush_seconds: float = FLUSH_SECONDS,
        sampler: Sampler | None = None,
    ):
        self._s3 = s3
        self._notify = notify
        self._interval = flush_seconds
        self.sampler = sampler or Sampler()
        self._buffer: dict[tuple[Key, str], list[Captured]] = {}
        self._dropped: dict[tuple[Key, str], int] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def record(
        self,
        key: Key,
        variant: str,
        settings_: CaptureSettings,
        request: bytes,
        request_type: str | None,
        response: bytes,
        response_type: str | None,
        inference_id: str | None = None,
    ) -> bool:
        """Keep one answered invocation if the sampling picks it; True if it was kept."""
        if self._closed or not self.sampler.take(settings_.percentage):
            return False
        event = Captured(
            settings_,
            time.time(),
            request if settings_.capture_input else None,
            request_type or DEFAULT_CONTENT_TYPE,
            response if settings_.capture_output else None,
            response_type or DEFAULT_CONTENT_TYPE,
            inference_id,
        )
        with self._lock:
            if self._bytes + event.size > MAX_BUFFERED_BYTES:
                self._dropped[(key, variant)] = self._dropped.get((key, variant), 0) + 1
                return False
            self._buffer.setdefault((key, variant), []).append(event)
            self._bytes += event.size
            full = self._bytes >= FLUSH_AT_BYTES
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="endpoint-data-capture", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()
        return True

    def flush_soon(self) -> None:
        """Write what is waiting now rather than at the next tick (an endpoint goes away or changes)."""
        self._wake.set()

    def set_flush_interval(self, seconds: float) -> None:
        self._interval = seconds
        self._wake.set()

    def close(self) -> None:
        """Write everything still waiting, then stop taking records."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:
                return  # close() writes the rest
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must outlive any one bad flush
                log.exception("data capture: a flush failed")

    def flush(self) -> int:
        """Write what is waiting (one object per variant, destination and hour); returns objects written."""
        with self._flush_lock:
            with self._lock:
                pending, self._buffer, self._bytes = self._buffer, {}, 0
                dropped, self._dropped = self._dropped, {}
            for (key, variant), count in dropped.items():
                self._fail(
                    key,
                    variant,
                    f"{count} records were not captured: more than {MAX_BUFFERED_BYTES // (1024 * 1024)} MB "
                    "waited to be written",
                )
            written = 0
            for (key, variant), events in pending.items():
                written += self._write(key, variant, events)
            return written

    def _write(self, key: Key, variant: str, events: list[Captured]) -> int:
        groups: dict[tuple[str, int], list[Captured]] = {}
        for event in events:
            groups.setdefault((event.settings.destination, int(event.time // 3600)), []).append(event)
        written = 0
        for (destination, _), group in groups.items():
            bucket, object_key = object_location(destination, key[2], variant, group[0].time)
            body = "".join(line(event) + "\n" for event in group).encode("utf-8")
            lost = f"{len(group)} records could not be written to s3://{bucket}/{object_key}"
            try:
                self._s3().put_object(Bucket=bucket, Key=object_key, Body=body, ContentType="application/jsonl")
                written += 1
            except ClientError as error:
                details = error.response.get("Error", {})
                if details.get("Code") == "NoSuchBucket":
                    why = f"bucket {bucket} does not exist: create it or change DataCaptureConfig.DestinationS3Uri"
                else:
                    why = f"{details.get('Code')}: {details.get('Message', error)}"
                self._fail(key, variant, f"{lost}: {why}")
            except BotoCoreError as error:
                self._fail(key, variant, f"{lost}: {error}")
        return written

    def _fail(self, key: Key, variant: str, message: str) -> None:
        text = f"Data capture for endpoint {key[2]} variant {variant}: {message}"
        log.warning(text)
        try:
            self._notify(key, variant, text)
        except Exception:  # noqa: BLE001 - reporting a failure must not fail the writer
            log.exception("data capture: could not report a failure to the endpoint's log stream")
