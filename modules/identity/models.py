"""Identity tables: people holding an ID, enrolment applications, and what authentication needs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...core.db import Base
from ...core.models import utcnow


class PersonStatus(StrEnum):
    ACTIVE = "active"
    DECEASED = "deceased"
    DEACTIVATED = "deactivated"


class EnrolmentStatus(StrEnum):
    ISSUED = "issued"
    HELD = "held_for_adjudication"
    REJECTED = "rejected_duplicate"


class Person(Base):
    __tablename__ = "identity_person"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(20), unique=True)
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(400))
    date_of_birth: Mapped[date] = mapped_column(Date, index=True)
    sex: Mapped[str] = mapped_column(String(1))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=PersonStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The name in the country's other scripts: {"Arab": {"given_name": ..., "family_name": ...}}.
    other_names: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Enrolment(Base):
    __tablename__ = "identity_enrolment"
    # The adjudicators' queue reads the held ones in id order (queues.py); the console's chart reads
    # the last 14 days' (reports.py).
    __table_args__ = (
        Index("ix_identity_enrolment_status_id", "status", "id"),
        Index("ix_identity_enrolment_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(30))
    national_id: Mapped[str | None] = mapped_column(String(20))
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list)
    demographics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Who submitted it (`Caller.person`): four-eyes refuses them as an adjudicator. None: enrolled
    # before makers were recorded, or in bulk at the server's shell.
    made_by: Mapped[str | None] = mapped_column(String(200), default=None)


class BiometricRecord(Base):
    """The local biometric adapter's gallery: a template's hash and whose it is."""

    __tablename__ = "identity_biometric"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_hash: Mapped[str] = mapped_column(String(64), index=True)
    national_id: Mapped[str] = mapped_column(String(20), index=True)


class VirtualId(Base):
    """A revocable 16-digit alias of a national ID (MOSIP's VID)."""

    __tablename__ = "identity_vid"

    id: Mapped[int] = mapped_column(primary_key=True)
    vid: Mapped[str] = mapped_column(String(16), unique=True)
    national_id: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    uses_left: Mapped[int | None] = mapped_column(Integer)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PartnerPolicy(Base):
    """What a relying party (core_partner.id; no cross-module foreign key) may do here."""

    __tablename__ = "identity_partner_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, unique=True)
    auth_types: Mapped[list[str]] = mapped_column(JSON)
    ekyc_attributes: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Otp(Base):
    """A one-time password sent to the resident's phone, stored as a keyed hash (HMAC-SHA256 under
    SECRET_KEY). Rows stay after use: the rate limits count them."""

    __tablename__ = "identity_otp"
    __table_args__ = (Index("ix_identity_otp_partner_id_created_at", "partner_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(20), index=True)
    transaction_id: Mapped[str] = mapped_column(String(64))
    partner_id: Mapped[int] = mapped_column(Integer)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# How long a message without its own expiry may wait for delivery (IDENTITY_NOTIFY_EXPIRY_SECONDS's default).
MESSAGE_EXPIRY_SECONDS = 24 * 3600


def default_expiry() -> datetime:
    return utcnow() + timedelta(seconds=MESSAGE_EXPIRY_SECONDS)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"


class OutboxMessage(Base):
    """Messages for residents: the notifier writes here in the request's transaction, delivery.py drains it.

    `body` is sealed (AES-GCM, notifier.seal) while the message is pending: it carries OTPs, so it is
    never readable at rest; once the message is sent, expired or given up on, it is NULL."""

    __tablename__ = "identity_outbox"
    __table_args__ = (Index("ix_identity_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=default_expiry)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the last attempt failed, in words with no recipient nor text in them ("HTTP 503", "SMTP 451").
    last_error: Mapped[str | None] = mapped_column(String(200))


class AuthLock(Base):
    """A factor the resident has locked: its presence refuses that factor."""

    __tablename__ = "identity_auth_lock"
    __table_args__ = (UniqueConstraint("national_id", "factor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(20))
    factor: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthThrottle(Base):
    """Failed authentications of one ID through one partner in the current window, and a lock-out
    end if reached: one partner's failures lock the ID out for that partner only."""

    __tablename__ = "identity_auth_throttle"
    __table_args__ = (UniqueConstraint("national_id", "partner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(20))
    partner_id: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateGate(Base):
    """One row per rate-limited key ("otp-partner:<id>", "otp-person:<national ID>"): writing it
    serialises the requests of that key across workers and machines while they count."""

    __tablename__ = "identity_rate_gate"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)


class ContactChange(Base):
    """History of a resident's phone and address."""

    __tablename__ = "identity_contact_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(20), index=True)
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ResidentSession(Base):
    """A short-lived session opened by a resident with an OTP; only the token's hash is kept."""

    __tablename__ = "identity_resident_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    national_id: Mapped[str] = mapped_column(String(20))
    partner_id: Mapped[int] = mapped_column(Integer)  # the partner that opened it, the only one it works for
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportCheckpoint(Base):
    """How far a bulk import of one source has committed, so a re-run continues."""

    __tablename__ = "identity_import_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(500), unique=True)
    line: Mapped[int] = mapped_column(Integer, default=0)
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MosipPartner(Base):
    """A relying party onboarded for the MOSIP ID Authentication adapter (mosip.py): its certificate
    (its requests' signatures are checked against it, eKYC answers are encrypted to it) and the
    hashes of the MISP licence key and partner API key its request URLs carry. Keyed by
    core_partner.id (no cross-module foreign key)."""

    __tablename__ = "identity_mosip_partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, unique=True)
    certificate: Mapped[str] = mapped_column(Text)  # PEM
    certificate_sha256: Mapped[str] = mapped_column(String(64))  # hex, of the DER form
    misp_key_hash: Mapped[str] = mapped_column(String(64))
    api_key_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MosipIdaKey(Base):
    """The IDA key pair and certificate the adapter generated when no files are configured: one row,
    shared by every worker; the private key is PKCS#8, encrypted under a key derived from SECRET_KEY."""

    __tablename__ = "identity_mosip_ida_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20), unique=True)
    private_key: Mapped[str] = mapped_column(Text)
    certificate: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DciMessage(Base):
    """A DCI message received from a civil registry or a partner (dci.py): its answer, so a replay gets it again.

    Keyed by the sender and its `message_id`; `request_hash` (keyed: core/keys.keyed_digest) tells a
    replay from a different message reusing the id (answered `rjct.message_id.duplicate`). The answer is
    sealed (a search answer holds personal data): only this deployment's SECRET_KEY reads it.
    """

    __tablename__ = "identity_dci_message"
    __table_args__ = (UniqueConstraint("sender_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    request_hash: Mapped[str] = mapped_column(String(64))
    sealed_answer: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DciRegistry(Base):
    """A civil registry we subscribe to (dci_subscriptions.py): where it is, who we are to it, its keys.

    `name` is its DCI id (its `sender_id`, our `receiver_id`). With keys registered (a JWKS or a JWKS
    URL), its messages to us must carry its signature.
    """

    __tablename__ = "identity_dci_registry"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    our_sender_id: Mapped[str] = mapped_column(String(100))
    our_url: Mapped[str] = mapped_column(String(500))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    jwks_url: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SubscriptionState(StrEnum):
    REQUESTED = "requested"  # sent, acknowledged; the registry's on-subscribe is awaited
    SUBSCRIBED = "subscribed"
    REFUSED = "refused"
    UNSUBSCRIBING = "unsubscribing"  # unsubscribe sent, acknowledged; on-unsubscribe awaited
    UNSUBSCRIBED = "unsubscribed"


class DciSubscription(Base):
    """One event type subscribed to at one registry: the request we sent, the registry's code and answer."""

    __tablename__ = "identity_dci_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[int] = mapped_column(ForeignKey("identity_dci_registry.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=SubscriptionState.REQUESTED)
    transaction_id: Mapped[str] = mapped_column(String(99), index=True)
    reference_id: Mapped[str] = mapped_column(String(99), unique=True)
    subscription_code: Mapped[str | None] = mapped_column(String(99), default=None)
    reason: Mapped[str | None] = mapped_column(String(999), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
