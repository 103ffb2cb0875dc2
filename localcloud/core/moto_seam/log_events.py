"""CloudWatch Logs events saved in rows of their own: a snapshot does not re-pickle every log line.

moto keeps a log stream's events as a list on the stream, so the snapshot of its backends grew with
every line a build, job, endpoint or handler ever wrote, and each write paid for all of them. Here
a stream is pickled without its events, as a reference to its rows (``core/state.py`` keeps them in
SQLite): moto only ever appends to a stream's events, so a snapshot inserts one row with the events
appended since the last one, and rewrites nothing. A deleted stream's rows are deleted with it.

What moto would need for this module to go away: backends that serialise themselves, or log events
kept outside the objects it pickles.
"""

from __future__ import annotations

import pickle
import uuid
from typing import Any

from moto.logs.models import LogEvent, LogStream

STREAM_ID = "_lc_stream_id"
SAVED = "_lc_saved_events"  # how many of the stream's events are in its rows
_ROWS: list = []  # while a snapshot is restored: a function from a stream's id to its saved batches


def stream_id(stream: LogStream) -> str:
    found = stream.__dict__.get(STREAM_ID)
    if found is None:
        found = stream.__dict__[STREAM_ID] = uuid.uuid4().hex
    return found


def unsaved(stream: LogStream) -> tuple[int, int, bytes | None]:
    """(first, end, batch): the events appended since the last snapshot, as one row's bytes (None if none)."""
    first = stream.__dict__.get(SAVED, 0)
    end = len(stream.events)
    if end <= first:
        return first, end, None
    events = [(e.ingestion_time, e.timestamp, e.message, e.event_id) for e in stream.events[first:end]]
    return first, end, pickle.dumps(events, protocol=pickle.HIGHEST_PROTOCOL)


def mark_saved(stream: LogStream, end: int) -> None:
    stream.__dict__[SAVED] = end


def reduce_stream(stream: LogStream):
    """Pickle ``stream`` as its id (its events come back from its rows) and then its other attributes;
    the attributes go in the state part, so the stream's log group, which refers back to it, can be pickled."""
    state = {k: v for k, v in stream.__dict__.items() if k not in ("events", STREAM_ID, SAVED)}
    return _restored_stream, (type(stream), stream_id(stream)), state


def _event(ingestion_time: int, timestamp: int, message: str, event_id: int) -> LogEvent:
    event = LogEvent.__new__(LogEvent)
    event.ingestion_time, event.timestamp, event.message, event.event_id = ingestion_time, timestamp, message, event_id
    return event


def _restored_stream(cls: type, identifier: str) -> LogStream:
    if not _ROWS:
        raise RuntimeError("a log stream can only be restored while its rows are at hand (restore_backends)")
    stream = cls.__new__(cls)
    events = [_event(*saved) for batch in _ROWS[0](identifier) for saved in pickle.loads(batch)]
    stream.__dict__.update({"events": events, STREAM_ID: identifier, SAVED: len(events)})
    if events:  # new events get ids after the restored ones, as moto numbers them per process
        LogEvent._event_id = max(LogEvent._event_id, events[-1].event_id + 1)
    return stream


class rows_at_hand:
    """While restoring: ``rows_of(stream_id) -> [batch bytes, in order]`` answers for log streams."""

    def __init__(self, rows_of: Any):
        self.rows_of = rows_of

    def __enter__(self):
        _ROWS[:] = [self.rows_of]
        return self

    def __exit__(self, *exc):
        _ROWS.clear()
        return False
