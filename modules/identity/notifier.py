"""Messages to residents (OTPs, notices) behind a protocol; the default writes to an outbox table.

A deployment replaces the outbox drain with its SMS gateway; demos and tests read the table.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import OutboxMessage


class Notifier(Protocol):
    def send(self, *, session: Session, recipient: str, body: str) -> None: ...


class OutboxNotifier:
    def send(self, *, session: Session, recipient: str, body: str) -> None:
        session.add(OutboxMessage(channel="sms", recipient=recipient, body=body))


def latest_message(*, session: Session, recipient: str) -> OutboxMessage | None:
    query = select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id.desc())
    return session.scalars(query.limit(1)).first()
