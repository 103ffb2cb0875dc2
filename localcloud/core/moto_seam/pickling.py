"""KMS keys in saved state: a key's private key object cannot be pickled as it is.

moto's KMS key (created by the API or by a stack's AWS::KMS::Key) holds a ``cryptography`` private
key; the state folder pickles backends, stacks included. The key is saved as its PKCS#8 DER bytes
and loaded back from them, so a template with a KMS key survives a restart.
"""

from __future__ import annotations

import copyreg

from cryptography.hazmat.primitives import serialization


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
    for key_type in _concrete_key_types():
        copyreg.pickle(key_type, _reduce)
