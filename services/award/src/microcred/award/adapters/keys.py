"""Signing keys at rest: Ed25519 private keys sealed with AES-256-GCM under a key-encryption key.

The key-encryption key comes from settings, which production fills from a secret store (a Kubernetes
Secret, Vault, a cloud KMS-unwrapped value); the database alone never yields a usable private key.
The key id is the AES-GCM associated data, so a sealed key copied onto another row fails to open
instead of signing under the wrong identity.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class KeyCipher:
    def __init__(self, key_encryption_key: str) -> None:
        try:
            raw = base64.urlsafe_b64decode(key_encryption_key + "=" * (-len(key_encryption_key) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"the key-encryption key is not base64url: {exc}") from None
        if len(raw) != 32:
            raise ValueError(f"the key-encryption key must be 32 bytes (base64url), not {len(raw)}")
        self._aead = AESGCM(raw)

    def seal(self, key: Ed25519PrivateKey, key_id: str) -> bytes:
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, raw, key_id.encode())

    def open(self, sealed: bytes, key_id: str) -> Ed25519PrivateKey:
        try:
            raw = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise ValueError(
                f"signing key {key_id} does not open under the configured key-encryption key"
            ) from None
        return Ed25519PrivateKey.from_private_bytes(raw)
