"""Tables the core owns: partners (relying parties), staff accounts and the hash-chained audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class Partner(Base):
    """A relying party (bank, ministry, agency) holding an API key with scopes."""

    __tablename__ = "core_partner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)  # None: never
    # A key holding a money scope works only once enough people other than its requester approved it
    # (four-eyes, core/security.py); `requested_by` is the requester's person.
    awaiting_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    requested_by: Mapped[str | None] = mapped_column(String(200), default=None)


class StaffAccount(Base):
    """A civil servant who signs in with a password and a TOTP code, or through the OpenID provider (core/staff.py)."""

    __tablename__ = "core_staff_account"
    # One account per person at the provider, whatever user name the provider gives them later.
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Argon2id, in its PHC string form; None for an account the OpenID provider signs in (no password here).
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    # AES-GCM under a key derived from SECRET_KEY: a copy of the database alone does not give the codes.
    totp_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    # The TOTP time step of the last code accepted: a code is good once, not for its whole window.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The OpenID provider's (issuer, subject) of an account it signs in; None for a local account.
    oidc_issuer: Mapped[str | None] = mapped_column(String(300), default=None)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), default=None)


class RoleGrant(Base):
    """A role a staff account may act in, in one region or (region None) everywhere."""

    __tablename__ = "core_staff_grant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("core_staff_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(20), default=None)


class StaffSession(Base):
    """A signed-in staff session; only the SHA-256 of its token is stored."""

    __tablename__ = "core_staff_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("core_staff_account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # cookie | bearer
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # absolute, whatever the activity
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # A session the OpenID provider opened keeps its ID token, the hint the provider's logout asks for:
    # here rather than in a cookie (an Entra ID token outgrows one), sealed like the TOTP secret,
    # and cleared when the session is signed out.
    oidc_id_token: Mapped[str | None] = mapped_column(Text, default=None)


class AuditEvent(Base):
    """One append-only audit record; `hash` is an HMAC of the record and the previous hash (core/audit.py)."""

    __tablename__ = "core_audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Approval(Base):
    """One person's approval of one version (fingerprint) of a subject, for one action (core/approvals.py).

    `voided_at` is set when the subject changed after the approval: voided rows stay as history.
    The partial unique index lets one person hold at most one live approval of a fingerprint, so
    concurrent requests cannot count a person twice whatever the service checked before.
    """

    __tablename__ = "core_approval"
    __table_args__ = (
        Index(
            "uq_core_approval_live",
            "action",
            "subject",
            "fingerprint",
            "person",
            unique=True,
            sqlite_where=text("voided_at IS NULL"),
            postgresql_where=text("voided_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    person: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class SignInAttempts(Base):
    """Attempts at one sign-in form from one client address in the current window (core/web/throttle.py)."""

    __tablename__ = "core_sign_in_attempts"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)


# AuditHead stays the last class: deployments append their own tables after it, and an upstream
# table added at the very end would meet those edits in a `copier update` conflict.
class AuditHead(Base):
    """The single row holding the chain's latest hash; locking it serialises appends."""

    __tablename__ = "core_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
