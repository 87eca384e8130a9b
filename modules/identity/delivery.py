"""Draining the outbox: each pending message is sent once through its channel's transport.

A pass claims one due message at a time (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so drainers
running side by side each take a different row; SQLite: the claim takes the database's write lock
first, so drainers take turns, and leases the row before sending so the lock is not held across the
network), sends it, records the outcome and commits before the next: a crash can repeat at most the
one message in flight, and the SMS gateway gets an idempotency key for that.

Outcomes: sent (body NULLed, sent_at kept); a failed attempt is tried again after
IDENTITY_NOTIFY_BACKOFF_SECONDS, doubled after each further failure, until
IDENTITY_NOTIFY_MAX_ATTEMPTS, then failed (body NULLed); a refusal that trying again cannot cure
(a recipient the gateway rejects) fails at once; a message past its `expires_at` is expired
(body NULLed) and never sent, whatever its channel's transport, 'outbox' included.
`last_error` says why in words that carry no recipient nor text: "HTTP 503", "SMTP 451",
"ConnectTimeout".
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import httpx
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from ...core.models import utcnow
from ...core.settings import Settings
from .config import IdentitySettings
from .models import DeliveryStatus, OutboxMessage
from .notifier import read_sealed
from .vids import aware

log = logging.getLogger(__name__)

ERROR_LENGTH = 200
# However many attempts are allowed, one message never waits longer than this between two.
MAX_BACKOFF = timedelta(days=1)
SUBJECT_LENGTH = 78
# A send is at most a few timeouts long (connect, STARTTLS, AUTH, data): a SQLite lease outlasts them.
LEASE_TIMEOUTS = 5


class DeliveryError(Exception):
    """An attempt that failed; `reason` names no recipient nor text. `permanent`: trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:ERROR_LENGTH]
        self.permanent = permanent


class Transport(Protocol):
    """One channel's way out. A pass keeps it for all its messages (one connection) and closes it."""

    def deliver(self, *, recipient: str, text: str, reference: str) -> None:
        """Hand one message over; raises DeliveryError when it was not taken."""

    def close(self) -> None: ...


@dataclass
class DeliveryCounts:
    """What one pass did: messages sent, tried and due again later, given up on, and expired unsent."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, field.name) for field in fields(self))


class SmtpTransport:
    """E-mail through a relay with smtplib: STARTTLS (verified, against IDENTITY_SMTP_CA_FILE if set), then AUTH.

    The connection is opened at the first message and kept for the pass; after a failed attempt it
    is dropped, so the next message starts on a clean one."""

    def __init__(self, settings: IdentitySettings) -> None:
        assert settings.smtp_host is not None  # the settings refuse smtp without a host
        self._settings = settings
        self._host = settings.smtp_host
        self._smtp: smtplib.SMTP | None = None

    def deliver(self, *, recipient: str, text: str, reference: str) -> None:
        try:
            self._connection().send_message(self._message(recipient, text, reference))
        except smtplib.SMTPRecipientsRefused as refused:
            self.close()
            codes = sorted({code for code, _reply in refused.recipients.values()})
            # 5xx: the relay will never take this address; 4xx: it may later.
            raise DeliveryError(
                f"SMTP {'/'.join(map(str, codes))} recipient refused", permanent=all(c >= 500 for c in codes)
            ) from None
        except smtplib.SMTPResponseException as error:
            self.close()
            raise DeliveryError(f"SMTP {error.smtp_code} {type(error).__name__}") from None
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise DeliveryError(type(error).__name__) from None

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._smtp.close()
        self._smtp = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        settings = self._settings
        smtp = smtplib.SMTP(self._host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
        self._smtp = smtp  # from here on `close` ends it, whatever fails next
        if settings.smtp_starttls:
            cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            smtp.starttls(context=ssl.create_default_context(cafile=cafile))
        if settings.smtp_user:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_user, password)
        return smtp

    def _message(self, recipient: str, text: str, reference: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.smtp_sender
        message["To"] = recipient
        # The first line is the subject: an OTP's reads "123456 is your one-time code ...".
        message["Subject"] = text.splitlines()[0][:SUBJECT_LENGTH] if text else ""
        message["Message-ID"] = make_msgid(idstring=reference)
        message.set_content(text)
        return message


class HttpSmsTransport:
    """SMS through a gateway: POST {"to", "text", "reference"} as JSON with a bearer token; any 2xx is taken.

    The reference doubles as Idempotency-Key: a message resent after a crash between the gateway's
    answer and the commit can be recognised by the gateway. One client (its connections kept alive)
    serves the pass: making one costs more than a request."""

    def __init__(self, settings: IdentitySettings) -> None:
        assert settings.sms_gateway_url is not None  # the settings refuse sms-http without a URL
        self._url = settings.sms_gateway_url
        token = settings.sms_gateway_token
        headers = {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}
        self._client = httpx.Client(headers=headers, timeout=settings.sms_gateway_timeout_seconds)

    def deliver(self, *, recipient: str, text: str, reference: str) -> None:
        try:
            response = self._client.post(
                self._url,
                json={"to": recipient, "text": text, "reference": reference},
                headers={"Idempotency-Key": reference},
            )
        except httpx.HTTPError as error:
            raise DeliveryError(type(error).__name__) from None
        if response.is_success:
            return
        # A 4xx says this request will never be taken (a bad number); 408 and 429 say "not now".
        permanent = response.is_client_error and response.status_code not in (408, 429)
        raise DeliveryError(f"HTTP {response.status_code}", permanent=permanent)

    def close(self) -> None:
        self._client.close()


def transports(settings: IdentitySettings) -> dict[str, Transport]:
    """The transport of each channel the settings send; a channel left on 'outbox' has none."""
    chosen: dict[str, Transport] = {}
    if settings.notify_sms == "sms-http":
        chosen["sms"] = HttpSmsTransport(settings)
    if settings.notify_email == "smtp":
        chosen["email"] = SmtpTransport(settings)
    return chosen


def deliver_pending(
    session: Session,
    settings: Settings,
    *,
    limit: int = 100,
    now: datetime | None = None,
    identity: IdentitySettings | None = None,
) -> DeliveryCounts:
    """One pass over the outbox: up to `limit` due or expired messages settled, each committed on its own.

    `settings` are the stack's (SECRET_KEY opens the bodies); `identity` the module's, read from the
    environment when not given. `now` fixes the clock (tests, a worker's tick)."""
    identity = identity or IdentitySettings()
    secret = settings.secret_key.get_secret_value()
    counts = DeliveryCounts()
    with ExitStack() as open_transports:
        by_channel = transports(identity)
        for transport in by_channel.values():
            open_transports.callback(transport.close)
        for _turn in range(limit):
            moment = now or utcnow()
            message = _claim_next(session, moment, tuple(by_channel))
            if message is None:
                break
            if _holds_database_lock(session) and aware(message.expires_at) > moment:
                _lease(session, message, moment, identity)
            outcome = _settle(message, moment, by_channel, secret=secret, settings=identity)
            session.commit()
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            log.info("identity outbox message %s: %s (attempt %s)", message.id, message.status, message.attempts)
        session.commit()  # ends the read of an empty claim too, so no lock outlives the pass
    return counts


def outbox_depth(session: Session) -> int:
    """Messages waiting to be sent (or to expire): the gauge an operator watches."""
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == DeliveryStatus.PENDING)
    return session.scalar(query) or 0


def _claim_next(session: Session, now: datetime, sending: tuple[str, ...]) -> OutboxMessage | None:
    """The oldest pending message that is expired, or due on a channel with a transport, locked for this pass."""
    if _holds_database_lock(session):
        # SQLite has no row locks: a write that changes nothing takes the database's write lock, so a
        # second drainer waits here until this one has leased the row (`_lease`) and then skips it.
        session.execute(text("UPDATE identity_outbox SET attempts = attempts WHERE 0"))
    due = and_(OutboxMessage.channel.in_(sending), OutboxMessage.next_attempt_at <= now)
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == DeliveryStatus.PENDING, or_(OutboxMessage.expires_at <= now, due))
        .order_by(OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    # populate_existing: a row this session saw before another drainer settled it is read afresh.
    return session.scalars(query.execution_options(populate_existing=True)).first()


def _holds_database_lock(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _lease(session: Session, message: OutboxMessage, now: datetime, settings: IdentitySettings) -> None:
    """On SQLite the claim holds the database's only write lock: sending under it would stall every
    request that writes for as long as the gateway takes (seconds, if it is down). The row is held by
    moving its next attempt past any send's time instead, and the lock is let go before sending."""
    longest = max(settings.smtp_timeout_seconds, settings.sms_gateway_timeout_seconds)
    message.next_attempt_at = now + timedelta(seconds=longest * LEASE_TIMEOUTS)
    session.commit()


def _settle(
    message: OutboxMessage,
    now: datetime,
    by_channel: Mapping[str, Transport],
    *,
    secret: str,
    settings: IdentitySettings,
) -> str:
    """Expire, send or schedule `message` again; returns the DeliveryCounts field it adds to."""
    if aware(message.expires_at) <= now:
        _close(message, DeliveryStatus.EXPIRED)
        return "expired"
    message.attempts += 1
    try:
        text = _open(message, secret)
        by_channel[message.channel].deliver(
            recipient=message.recipient, text=text, reference=f"identity-outbox-{message.id}"
        )
    except DeliveryError as error:
        return _failed_attempt(message, error, now, settings)
    except Exception as error:  # a transport's bug must not stop the pass nor leave the row locked
        return _failed_attempt(message, DeliveryError(type(error).__name__), now, settings)
    message.sent_at = now
    message.last_error = None
    _close(message, DeliveryStatus.SENT)
    return "sent"


def _open(message: OutboxMessage, secret: str) -> str:
    assert message.body is not None  # pending messages keep their body
    try:
        return read_sealed(message.body, message.recipient, secret=secret)
    except ValueError:
        raise DeliveryError("sealed under another SECRET_KEY", permanent=True) from None


def _failed_attempt(message: OutboxMessage, error: DeliveryError, now: datetime, settings: IdentitySettings) -> str:
    message.last_error = error.reason
    if error.permanent or message.attempts >= settings.notify_max_attempts:
        _close(message, DeliveryStatus.FAILED)
        return "failed"
    message.next_attempt_at = now + backoff(message.attempts, settings.notify_backoff_seconds)
    return "retrying"


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base, ... at most a day."""
    return min(timedelta(seconds=base_seconds) * 2 ** min(attempts - 1, 30), MAX_BACKOFF)


def _close(message: OutboxMessage, status: DeliveryStatus) -> None:
    """A message that will not be sent again needs its text no longer: it may hold a code."""
    message.status = status
    message.body = None
