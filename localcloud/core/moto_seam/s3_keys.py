"""S3 keys saved one by one: a write costs the same however many objects the buckets hold.

The snapshot of moto's backends would otherwise pickle every key of every bucket on every write
(2,000 objects made a 100-byte PutObject 7x slower). Instead each bucket's key store is a reference
in the snapshot, and its keys are rows of their own (``core/state.py`` keeps them in SQLite),
rewritten only for the key names that changed since the last snapshot. What changed is tracked
here: a store marks a name when versions are set, added or removed, and a key marks its own name
when one of its attributes is set after it was stored (an ACL, a legal hold, a restore).

What moto would need for this module to go away: backends that serialise themselves, or a change
log of its own.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

from localcloud.core import moto_seam as seam

STORE_ID = "_lc_store_id"
DIRTY = "_lc_dirty"
OWNER = "_lc_store"  # on a key: the store holding it (left out of the key's own pickle)


def store_id(store: _VersionedKeyStore) -> str:
    """The store's row prefix; a store never saved before has every name changed."""
    found = store.__dict__.get(STORE_ID)
    if found is None:
        found = store.__dict__[STORE_ID] = uuid.uuid4().hex
        store.__dict__[DIRTY] = set(dict.keys(store))
    return found


def changed_names(store: _VersionedKeyStore) -> set[str]:
    return store.__dict__.setdefault(DIRTY, set())


def versions_of(store: _VersionedKeyStore, name: str) -> list | None:
    return dict.get(store, name)


def restored(identifier: str, rows: list[tuple[str, list]]) -> _VersionedKeyStore:
    """A store made from its saved rows, with nothing changed."""
    store = _VersionedKeyStore()
    for name, versions in rows:
        dict.__setitem__(store, name, versions)
        for version in versions:
            _own(store, version)
    store.__dict__[STORE_ID] = identifier
    store.__dict__[DIRTY] = set()
    return store


def _own(store: _VersionedKeyStore, value: Any) -> None:
    if isinstance(value, FakeKey):
        value.__dict__[OWNER] = store


def _mark(store: _VersionedKeyStore, name: str) -> None:
    store.__dict__.setdefault(DIRTY, set()).add(name)


def _wrap_setitem(original):
    def __setitem__(self, key, value):
        original(self, key, value)
        _own(self, value)
        _mark(self, key)

    return __setitem__


def _wrap_setlist(original):
    def setlist(self, key, list_):
        original(self, key, list_)
        for value in dict.get(self, key) or ():
            _own(self, value)
        _mark(self, key)

    return setlist


def _wrap_removal(original):
    def remove(self, key, *args):
        result = original(self, key, *args)
        _mark(self, key)
        return result

    return remove


def _key_setattr(self, name, value):
    object.__setattr__(self, name, value)
    store = self.__dict__.get(OWNER)
    if store is not None:
        _mark(store, self.name)


def install() -> None:
    until = "moto backends that serialise themselves, or a change log of moto's own"
    seam.patch(
        _VersionedKeyStore,
        "__setitem__",
        wrap=_wrap_setitem,
        why="a snapshot rewrites only the S3 key names that changed (a new version is a change)",
        until=until,
    )
    seam.patch(
        _VersionedKeyStore,
        "setlist",
        wrap=_wrap_setlist,
        why="a snapshot rewrites only the S3 key names that changed (versions replaced)",
        until=until,
    )
    for removal in ("pop", "__delitem__"):
        seam.patch(
            _VersionedKeyStore,
            removal,
            wrap=_wrap_removal,
            why="a snapshot rewrites only the S3 key names that changed (a key removed)",
            until=until,
        )
    seam.patch(
        FakeKey,
        "__setattr__",
        value=_key_setattr,
        why="a stored key changed in place (ACL, legal hold, retention, restore) is rewritten by the next snapshot",
        until=until,
    )
