"""Durable state: moto's backends in SQLite, S3 bodies as files, our own records as JSON, in one folder.

A snapshot is written before the response that caused it is sent, so ``kill -9`` loses nothing
an API call had reported as done. Each snapshot is one SQLite transaction: the pickle of moto's
backends (without S3 keys or log events), a row per S3 key name that changed since the last one,
and a row per log stream with the events appended since the last one, so a write costs the same
however many objects and log lines are stored. JSON records are written atomically (temp file +
rename).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from moto.backends import ALT_BACKEND_NAMES, get_backend, list_of_moto_modules

from localcloud import MOTO_VERSION
from localcloud.core.moto_seam import log_events, s3_bodies, s3_keys
from localcloud.core.moto_seam.pickling import dump_backend, dump_backends, dump_key_versions, rows_at_hand

# 2: modules under core/, services/, tools/ (the pickle names them); S3 bodies in files.
# 3: moto's backends in SQLite (moto/state.sqlite), S3 keys a row per name.
# 4: CloudWatch Logs events in rows of their own (a batch per stream and snapshot).
STATE_FORMAT = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), backends BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS s3_keys (store TEXT NOT NULL, name TEXT NOT NULL, versions BLOB NOT NULL,
                                    PRIMARY KEY (store, name));
CREATE TABLE IF NOT EXISTS log_events (stream TEXT NOT NULL, first INTEGER NOT NULL, events BLOB NOT NULL,
                                       PRIMARY KEY (stream, first));
"""


class StateFormatError(RuntimeError):
    """The state folder was written in a format this local cloud cannot read; the message says what to do."""


log = logging.getLogger("localcloud.core.state")


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def loaded_backends() -> list[str]:
    """Names of the moto backends that this process has imported and put state in."""
    names = []
    for module in list_of_moto_modules():
        if f"moto.{module}.models" not in sys.modules:
            continue
        name = ALT_BACKEND_NAMES.get(module, module)
        try:
            backend_dict = get_backend(name)
        except (AttributeError, ImportError, KeyError):
            continue  # a package of moto's that is not a service
        if len(backend_dict):
            names.append(name)
    return names


class StateStore:
    """The state folder. ``lock`` serialises moto access so snapshots never see a half-made change."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._known_backends: set[str] = set()
        self._database: sqlite3.Connection | None = None
        self._saved_stores: set[str] = set()  # key stores that have rows
        self._saved_streams: set[str] = set()  # log streams that have rows

    # moto backends -------------------------------------------------------------------------
    @property
    def moto_file(self) -> Path:
        return self.root / "moto" / "state.sqlite"

    @property
    def _old_moto_file(self) -> Path:
        return self.root / "moto" / "backends.pickle"

    def _db(self) -> sqlite3.Connection:
        """One connection, used under ``lock``; WAL: a commit is one append, and survives kill -9."""
        if self._database is None:
            self.moto_file.parent.mkdir(parents=True, exist_ok=True)
            database = sqlite3.connect(self.moto_file, check_same_thread=False, isolation_level=None)
            database.execute("PRAGMA journal_mode=WAL")
            database.execute("PRAGMA synchronous=NORMAL")
            database.executescript(SCHEMA)
            self._database = database
        return self._database

    def close(self) -> None:
        with self.lock:
            if self._database is not None:
                self._database.close()
                self._database = None

    # the format of the folder -------------------------------------------------------------
    @property
    def format_file(self) -> Path:
        return self.root / "format.json"

    def check_format(self) -> None:
        """Refuse a folder this code cannot read, saying why and what to do, before unpickling anything.

        The pickle names the classes (and moto's) it was written with; a folder from another layout
        or moto version would otherwise fail with an unpickling traceback, or half-load.
        """
        wanted = {"format": STATE_FORMAT, "moto": MOTO_VERSION}
        if not self.format_file.exists():
            if self.moto_file.exists() or self._old_moto_file.exists():
                raise StateFormatError(
                    f"the state folder {self.root} was written by an older local cloud (before state format "
                    f"{STATE_FORMAT}) and cannot be read by this one. Start fresh by removing it "
                    f"('make clean' removes the default .localcloud) or point LOCALCLOUD_STATE_DIR elsewhere."
                )
            self.write_json(self.format_file.name, wanted)
            return
        found = json.loads(self.format_file.read_text())
        if found != wanted:
            differs = ", ".join(
                f"{key} {found.get(key)!r} (this local cloud: {value!r})"
                for key, value in wanted.items()
                if found.get(key) != value
            )
            raise StateFormatError(
                f"the state folder {self.root} has {differs}; this local cloud cannot read it. Start fresh by "
                "removing the folder, or run the version of the local cloud that wrote it to take out what you need."
            )

    def restore_backends(self) -> list[str]:
        self.check_format()
        s3_bodies.use_folder(self.root)
        if not self.moto_file.exists():
            return []
        with self.lock:
            database = self._db()
            row = database.execute("SELECT backends FROM snapshot WHERE id = 1").fetchone()
            if row is None:
                return []

            def rows_of(store: str) -> list[tuple[str, list]]:
                self._saved_stores.add(store)
                found = database.execute("SELECT name, versions FROM s3_keys WHERE store = ?", (store,))
                return [(name, pickle.loads(versions)) for name, versions in found]

            def batches_of(stream: str) -> list[bytes]:
                self._saved_streams.add(stream)
                found = database.execute("SELECT events FROM log_events WHERE stream = ? ORDER BY first", (stream,))
                return [events for (events,) in found]

            with rows_at_hand(rows_of, batches_of):
                saved = pickle.loads(row[0])
            for name, accounts in saved.items():
                backend_dict = get_backend(name)
                backend_dict.clear()
                backend_dict.update(accounts)
                self._known_backends.add(name)
            s3_bodies.remove_unreferenced()
        return sorted(saved)

    def save_backends(self, *names: str) -> None:
        """Snapshot every backend that holds anything, ``names`` included, in one transaction.

        One pickle, not one per service: a stack's resources are the very objects other services
        keep (a rule is in both the stack and the event bus), and only a single pickle keeps them
        one object after a restart. Backends only ever changed in-process (a stack's Lambda
        function) are included because they hold state, not because a request named them. S3
        keys are the exception, being many and referred to by their bucket only: the pickle holds a
        reference to each bucket's key store, and only the key names changed since the last
        snapshot are rewritten, each in a row of its own.
        """
        with self.lock:
            self._known_backends.update(names)
            backends = {name: dict(get_backend(name)) for name in sorted(self._known_backends | set(loaded_backends()))}
            try:
                data, stores, streams = dump_backends(backends)
            except (TypeError, pickle.PicklingError, AttributeError):
                kept = {name: b for name, b in backends.items() if self._picklable(name, b)}
                data, stores, streams = dump_backends(kept)
            changes = []
            for store in stores:
                identifier = s3_keys.store_id(store)
                for name in list(s3_keys.changed_names(store)):
                    versions = s3_keys.versions_of(store, name)
                    changes.append((identifier, name, dump_key_versions(versions) if versions else None))
            met = {s3_keys.store_id(store) for store in stores}
            appended = [(stream, log_events.unsaved(stream)) for stream in streams]
            streams_met = {log_events.stream_id(stream) for stream in streams}
            database = self._db()
            database.execute("BEGIN")
            try:
                database.execute("INSERT OR REPLACE INTO snapshot (id, backends) VALUES (1, ?)", (data,))
                for identifier, name, versions in changes:
                    if versions is None:
                        database.execute("DELETE FROM s3_keys WHERE store = ? AND name = ?", (identifier, name))
                    else:
                        database.execute(
                            "INSERT OR REPLACE INTO s3_keys (store, name, versions) VALUES (?, ?, ?)",
                            (identifier, name, versions),
                        )
                for gone in self._saved_stores - met:  # a deleted bucket's keys
                    database.execute("DELETE FROM s3_keys WHERE store = ?", (gone,))
                for stream, (first, _, batch) in appended:
                    if batch is not None:
                        database.execute(
                            "INSERT OR REPLACE INTO log_events (stream, first, events) VALUES (?, ?, ?)",
                            (log_events.stream_id(stream), first, batch),
                        )
                for gone in self._saved_streams - streams_met:  # a deleted stream's (or group's) events
                    database.execute("DELETE FROM log_events WHERE stream = ?", (gone,))
                database.execute("COMMIT")
            except BaseException:
                database.execute("ROLLBACK")
                raise
            self._saved_stores = met
            self._saved_streams = streams_met
            for store in stores:  # saved: nothing of theirs is changed any more
                s3_keys.changed_names(store).clear()
            for stream, (_, end, _) in appended:
                log_events.mark_saved(stream, end)

    @staticmethod
    def _picklable(name: str, backend: dict) -> bool:
        try:
            dump_backend(backend)
            return True
        except (TypeError, pickle.PicklingError, AttributeError) as error:
            log.error("state of %s cannot be saved and will not survive a restart: %s", name, error)
            return False

    def save_all_backends(self, extra: set[str] | None = None) -> None:
        self.save_backends(*(extra or ()))

    def note_backend(self, name: str) -> None:
        """Include ``name`` in every snapshot from now on, even before it holds anything."""
        self._known_backends.add(name)

    # our own JSON records ------------------------------------------------------------------
    def write_json(self, relative: str, record: Any) -> None:
        atomic_write(self.root / relative, json.dumps(record, indent=1, default=str).encode())

    def read_json(self, relative: str) -> Any:
        return json.loads((self.root / relative).read_text())

    def list_json(self, folder: str) -> list[Any]:
        directory = self.root / folder
        if not directory.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]

    def path(self, *parts: str) -> Path:
        target = self.root.joinpath(*parts)
        target.mkdir(parents=True, exist_ok=True)
        return target
