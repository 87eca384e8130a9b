"""Keys derived from SECRET_KEY: one HKDF-SHA256 derivation per purpose, so no two uses share a key.

Changing SECRET_KEY changes every derived key: the audit chain's HMAC (the chain no longer
verifies) and the checkpoint signing key (old checkpoints no longer match). Keep it for the
deployment's life, like the database.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"nation-stack derived keys"
AUDIT_CHAIN_HMAC = "audit-chain hmac-sha256 v1"
AUDIT_CHECKPOINT_SIGNING = "audit-checkpoint ed25519 v1"


@lru_cache(maxsize=8)
def derive_key(secret: str, purpose: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=SALT, info=purpose.encode()).derive(secret.encode())


def checkpoint_signing_key(secret: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(derive_key(secret, AUDIT_CHECKPOINT_SIGNING))


def keyed_digest(secret: str, purpose: str, content: bytes) -> str:
    """HMAC-SHA256 of `content` under the key for `purpose`, in hex: a stored fingerprint of a message.

    Keyed, so a digest of a message naming a national ID cannot be reversed by hashing every number.
    """
    return hmac.new(derive_key(secret, purpose), content, hashlib.sha256).hexdigest()
