"""Pickling moto's backends: every hook the state folder needs, in one place.

The state folder pickles moto's backends (stacks included). A few of moto's objects refuse plain
pickle: locks come back as fresh, unheld locks; weak-value caches as the same mapping (their
values are pickled with the rest); ``defaultdict(lambda: {})`` as ``defaultdict(dict)``; a KMS
key's ``cryptography`` private key (made by the API or a stack's AWS::KMS::Key) as its PKCS#8 DER
bytes, loaded back from them.

What moto would need for this module to go away: backends that serialise themselves (moto's
recorder replays requests instead, with new generated ids).
"""

from __future__ import annotations

import collections
import contextlib
import copyreg
import io
import pickle
import threading
import weakref

from cryptography.hazmat.primitives import serialization
from moto.logs.models import LogStream
from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore
from moto.utilities.tagging_service import TaggingService

from localcloud.core.moto_seam import log_events, s3_bodies, s3_keys


def _private_key_bytes(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(der: bytes):
    return serialization.load_der_private_key(der, password=None)


def _reduce(key):
    return load_private_key, (_private_key_bytes(key),)


def _concrete_key_types() -> list[type]:
    """The classes keys really have (the public ABCs only register them, so pickle never sees those)."""
    from cryptography.hazmat.bindings._rust import openssl

    found = []
    for module, name in (("rsa", "RSAPrivateKey"), ("ec", "ECPrivateKey"), ("ed25519", "Ed25519PrivateKey")):
        key_type = getattr(getattr(openssl, module, None), name, None)
        if key_type is not None:
            found.append(key_type)
    return found


def install() -> None:
    """Register the KMS key reducer (copyreg is process-wide; registering twice is harmless)."""
    for key_type in _concrete_key_types():
        copyreg.pickle(key_type, _reduce)


_LOCK_TYPES = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


def _defaultdict(factory, items):
    return collections.defaultdict(factory, items)


def _tagging_service(tag_name: str, key_name: str, value_name: str, tags: dict) -> TaggingService:
    service = TaggingService(tag_name, key_name, value_name)
    service.tags.update(tags)
    return service


_KEY_ROWS: list = []  # while a snapshot is restored: a function from a key store's id to its rows


def _stored_keys(identifier: str) -> _VersionedKeyStore:
    """A bucket's key store, from its own rows (see ``s3_keys``)."""
    if not _KEY_ROWS:
        raise RuntimeError("a key store can only be restored while its rows are at hand (load_backends)")
    return s3_keys.restored(identifier, _KEY_ROWS[0](identifier))


class _BackendPickler(pickle.Pickler):
    """Pickles moto's backends, with the few objects plain pickle refuses: locks come back as fresh,
    unheld locks; weak-value caches as the same mapping (their values are pickled with the rest);
    ``defaultdict(lambda: {})`` as ``defaultdict(dict)``. S3 keys are pickled without their bodies,
    which live in files (``s3_bodies``); a bucket's versioned key store keeps every version (moto's
    ``items()`` yields only the latest, so plain pickle dropped the rest). A bucket's key store is
    a reference to rows of its own, each key name's versions pickled apart (``dump_key_versions``),
    so a snapshot's cost does not grow with the number of objects; ``key_stores`` lists the stores met.
    A CloudWatch Logs stream is pickled without its events, which are rows of their own too
    (``log_events``); ``log_streams`` lists the streams met."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_stores: list[_VersionedKeyStore] = []
        self.log_streams: list[LogStream] = []

    def reducer_override(self, obj):
        if type(obj) is LogStream:
            self.log_streams.append(obj)
            return log_events.reduce_stream(obj)
        if isinstance(obj, FakeKey):
            return s3_bodies.restore_key, (type(obj), s3_bodies.key_state(obj))
        if type(obj) is _VersionedKeyStore:
            self.key_stores.append(obj)
            return _stored_keys, (s3_keys.store_id(obj),)
        if type(obj) is TaggingService:  # moto adds an empty entry per S3 object: the same as none, and many
            tagged = {arn: tags for arn, tags in obj.tags.items() if tags}
            return _tagging_service, (obj.tag_name, obj.key_name, obj.value_name, tagged)
        factory = _LOCK_TYPES.get(type(obj))
        if factory is not None:
            return factory, ()
        if isinstance(obj, weakref.WeakValueDictionary):
            return weakref.WeakValueDictionary, (dict(obj.items()),)
        if isinstance(obj, collections.defaultdict) and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            made = type(obj.default_factory())
            if made in (dict, list, set):
                return _defaultdict, (made, dict(obj))
        return NotImplemented


def dump_backends(value) -> tuple[bytes, list[_VersionedKeyStore], list[LogStream]]:
    """The snapshot's bytes, and the S3 key stores and log streams it refers to (their rows are saved apart)."""
    buffer = io.BytesIO()
    pickler = _BackendPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dump(value)
    return buffer.getvalue(), pickler.key_stores, pickler.log_streams


def dump_backend(value) -> bytes:
    return dump_backends(value)[0]


def dump_key_versions(versions: list) -> bytes:
    """One key name's versions, as its row holds them."""
    return dump_backend(list(versions))


@contextlib.contextmanager
def rows_at_hand(key_rows_of, log_rows_of):
    """Restore snapshots with ``key_rows_of(store_id) -> [(name, versions)]`` answering for key stores
    and ``log_rows_of(stream_id) -> [batch]`` for log streams."""
    _KEY_ROWS[:] = [key_rows_of]
    try:
        with log_events.rows_at_hand(log_rows_of):
            yield
    finally:
        _KEY_ROWS.clear()
