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
import copyreg
import io
import pickle
import threading
import weakref

from cryptography.hazmat.primitives import serialization
from moto.s3.models import FakeKey
from moto.s3.utils import _VersionedKeyStore

from localcloud.core.moto_seam import s3_bodies


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


def _versioned_store(lists: dict) -> _VersionedKeyStore:
    store = _VersionedKeyStore()
    for name, versions in lists.items():
        dict.__setitem__(store, name, versions)
    return store


class _BackendPickler(pickle.Pickler):
    """Pickles moto's backends, with the few objects plain pickle refuses: locks come back as fresh,
    unheld locks; weak-value caches as the same mapping (their values are pickled with the rest);
    ``defaultdict(lambda: {})`` as ``defaultdict(dict)``. S3 keys are pickled without their bodies,
    which live in files (``s3_bodies``); a bucket's versioned key store keeps every version (moto's
    ``items()`` yields only the latest, so plain pickle dropped the rest)."""

    def reducer_override(self, obj):
        if isinstance(obj, FakeKey):
            return s3_bodies.restore_key, (type(obj), s3_bodies.key_state(obj))
        if type(obj) is _VersionedKeyStore:
            return _versioned_store, ({name: list(versions) for name, versions in dict.items(obj)},)
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


def dump_backend(value) -> bytes:
    buffer = io.BytesIO()
    _BackendPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()
