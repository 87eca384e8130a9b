"""Messages to residents (OTPs, notices) behind a protocol; the default writes to an outbox table.

Every message goes through the outbox, in the transaction of the request that sends it: a code is
only ever sent for a request that committed, and a slow gateway never holds a request up.
`delivery.deliver_pending` drains the table through the transport each channel's setting names
(IDENTITY_NOTIFY_SMS, IDENTITY_NOTIFY_EMAIL); with 'outbox' the messages wait there for a demo or
the tests to read with `read`.
Messages carry one-time codes, so the outbox never holds them in clear: each body is sealed with
AES-256-GCM under a key derived from SECRET_KEY (HKDF-SHA256), the recipient bound in as
associated data, and it is NULL once the message is sent, expired or given up on.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.i18n import _
from ...core.models import utcnow
from .models import MESSAGE_EXPIRY_SECONDS, OutboxMessage

SEALED_PREFIX = "v1:"
_NONCE_BYTES = 12


CHANNELS = ("sms", "email")


class Notifier(Protocol):
    def send(
        self,
        *,
        session: Session,
        recipient: str,
        body: str,
        channel: str = "sms",
        expires_at: datetime | None = None,
    ) -> None: ...


class OutboxNotifier:
    """Writes each message, sealed, to `identity_outbox` for delivery.py to drain (`read` opens it).

    A message not delivered by `expires_at` (an OTP's own expiry), or else `expiry_seconds` after it
    was written, is never sent."""

    def __init__(self, *, secret: str, expiry_seconds: int = MESSAGE_EXPIRY_SECONDS) -> None:
        self._secret = secret
        self._expiry = timedelta(seconds=expiry_seconds)

    def send(
        self,
        *,
        session: Session,
        recipient: str,
        body: str,
        channel: str = "sms",
        expires_at: datetime | None = None,
    ) -> None:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
        now = utcnow()
        message = OutboxMessage(
            channel=channel,
            recipient=recipient,
            body=seal(body, recipient, secret=self._secret),
            next_attempt_at=now,
            expires_at=expires_at or now + self._expiry,
        )
        session.add(message)


def seal(text: str, recipient: str, *, secret: str) -> str:
    """`text` encrypted and authenticated for `recipient`: 'v1:' + base64(nonce + ciphertext + tag)."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(secret)).encrypt(nonce, text.encode(), recipient.encode())
    return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def read(message: OutboxMessage, *, secret: str) -> str:
    """The text of an outbox message; ValueError when it was not sealed under this SECRET_KEY for its
    recipient, or its text is gone (sent, expired or given up on). The one way the outbox is read."""
    if message.body is None:
        raise ValueError(
            _("outbox message {id} is {status}; its text is gone").format(id=message.id, status=message.status)
        )
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
