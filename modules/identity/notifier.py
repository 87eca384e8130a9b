"""Messages to residents (OTPs, notices) behind a protocol; the default writes to an outbox table.

A deployment replaces the outbox drain with its SMS gateway; demos and tests read the table.
Messages carry one-time codes, so the outbox never holds them in clear: each body is sealed with
AES-256-GCM under a key derived from SECRET_KEY (HKDF-SHA256), the recipient bound in as
associated data, and the delivering side opens it with `read`.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.i18n import _
from .models import OutboxMessage

SEALED_PREFIX = "v1:"
_NONCE_BYTES = 12


class Notifier(Protocol):
    def send(self, *, session: Session, recipient: str, body: str) -> None: ...


class OutboxNotifier:
    """Writes each message, sealed, to `identity_outbox` for a gateway to drain (`read` opens it)."""

    def __init__(self, *, secret: str) -> None:
        self._secret = secret

    def send(self, *, session: Session, recipient: str, body: str) -> None:
        session.add(OutboxMessage(channel="sms", recipient=recipient, body=seal(body, recipient, secret=self._secret)))


def seal(text: str, recipient: str, *, secret: str) -> str:
    """`text` encrypted and authenticated for `recipient`: 'v1:' + base64(nonce + ciphertext + tag)."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(secret)).encrypt(nonce, text.encode(), recipient.encode())
    return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def read(message: OutboxMessage, *, secret: str) -> str:
    """The text of an outbox message; ValueError when it was not sealed under this SECRET_KEY for its recipient."""
    try:
        return read_sealed(message.body, message.recipient, secret=secret)
    except ValueError:
        raise ValueError(_("outbox message {id} cannot be read with this SECRET_KEY").format(id=message.id)) from None


def read_sealed(sealed: str, recipient: str, *, secret: str) -> str:
    """What `seal` sealed for `recipient` under `secret`; ValueError when it was not, or was altered."""
    try:
        if not sealed.startswith(SEALED_PREFIX):
            raise ValueError
        raw = base64.b64decode(sealed[len(SEALED_PREFIX) :], validate=True)
        clear = AESGCM(_key(secret)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], recipient.encode())
    except (ValueError, InvalidTag):
        raise ValueError("not sealed for this recipient under this key") from None
    return clear.decode()


def latest_message(*, session: Session, recipient: str) -> OutboxMessage | None:
    query = select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc())
    return session.scalars(query.limit(1)).first()


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"nation-stack identity outbox").derive(secret.encode())
