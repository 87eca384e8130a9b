"""Staff accounts: Argon2id passwords, a TOTP code as the second factor, lock-out, sessions, role grants.

An account the ministry's OpenID provider signs in (core/oidc.py) is linked to the provider's
(issuer, subject), has no password nor TOTP secret here, and takes its grants from the provider's
claims at every sign-in (`sign_in_linked`).

Signing in takes the password and the current TOTP code, both required; a wrong one counts as a
failed attempt, and `staff_max_failed_sign_ins` failures lock the account for
`staff_lockout_minutes`. Every refusal answers the same "sign-in failed", whether the user exists or
not, so the answer never tells which user names exist. A session token is shown once and stored
only as its SHA-256. Functions that depend on the time take `now`, so tests travel in time.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit
from .errors import Conflict, NotFound, Problem
from .i18n import _
from .keys import derive_key
from .models import RoleGrant, StaffAccount, StaffSession, utcnow
from .registry import installed_roles
from .schemas import as_utc
from .security import AuthenticationFailed
from .settings import Settings
from .stack import stack_info

MIN_PASSWORD_LENGTH = 12
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
TOTP_KEY_PURPOSE = "staff-totp aes-256-gcm v1"
ID_TOKEN_KEY_PURPOSE = "staff-session oidc-id-token aes-256-gcm v1"  # noqa: S105 - a key purpose, not a secret
TOKEN_PREFIX = "nss_"  # noqa: S105 - a prefix that marks staff tokens, not a secret
NONCE_BYTES = 12
SessionKind = Literal["cookie", "bearer"]
USER_NAME_LENGTH = 64  # the column's

# argon2-cffi's defaults: Argon2id with RFC 9106's low-memory parameters.
_hasher = PasswordHasher()


class SignInFailed(AuthenticationFailed):
    def __init__(self) -> None:
        super().__init__(_("sign-in failed"))


class SessionInvalid(AuthenticationFailed):
    def __init__(self) -> None:
        super().__init__(_("the staff session is not valid or has expired; sign in again"))


@dataclass(frozen=True)
class OpenedSession:
    token: str  # shown once, never stored
    kind: SessionKind
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    account: StaffAccount
    grants: tuple[RoleGrant, ...]


def create_account(
    *, session: Session, user_name: str, display_name: str, password: str, actor: str = "system"
) -> StaffAccount:
    """A new active account without a TOTP secret yet (`enrol_totp`); audited."""
    if not USER_NAME.match(user_name):
        message = _(
            "use 2 to 64 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit"
        )
        raise Problem(message, field="user_name")
    if _account_named(session, user_name) is not None:
        raise Conflict(_("a staff account named '{user}' already exists").format(user=user_name), field="user_name")
    weakness = password_weakness(password, user_name)
    if weakness is not None:
        raise Problem(weakness, field="password")
    account = StaffAccount(
        user_name=user_name,
        display_name=display_name,
        password_hash=_hasher.hash(password),
        failed_attempts=0,
        active=True,
        created_at=utcnow(),
    )
    session.add(account)
    session.flush()
    _audit(session, actor, "staff.created", account, display_name=display_name)
    return account


def password_weakness(password: str, user_name: str) -> str | None:
    """Why `password` is refused, or None: too short, among the common passwords, or containing the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("must be at least {length} characters long").format(length=MIN_PASSWORD_LENGTH)
    if password.lower().strip() in common_passwords():
        return _("is one of the most common passwords; choose another")
    if user_name.lower() in password.lower():
        return _("must not contain the user name")
    return None


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def enrol_totp(*, session: Session, user_name: str, secret_key: str, actor: str = "system") -> str:
    """A new TOTP secret for the account (replacing any earlier one); returns its provisioning URI, shown once."""
    account = _existing(session, user_name)
    secret = pyotp.random_base32()
    account.totp_secret = _seal(secret, secret_key, TOTP_KEY_PURPOSE)
    account.totp_last_step = None
    session.flush()
    _audit(session, actor, "staff.totp-enrolled", account)
    return pyotp.TOTP(secret).provisioning_uri(name=user_name, issuer_name=stack_info().deployment_name)


def sign_in(
    *,
    session: Session,
    user_name: str,
    password: str,
    code: str,
    settings: Settings,
    now: datetime | None = None,
) -> StaffAccount:
    """The account, when the password and the current TOTP code are both right; else `SignInFailed`.

    A code is accepted once: a code already used (seen over a shoulder, replayed) is a failure.

    A failure is counted in the session: the caller commits it before answering.
    """
    now = now or utcnow()
    account = _account_named(session, user_name)
    # An account the OpenID provider signs in has no password: refused, and not counted, so guesses
    # here cannot lock its owner out.
    if account is None or account.password_hash is None:
        _verify(_dummy_hash(), password)  # the same work as for a real account: timing tells nothing
        raise SignInFailed
    secret_key = settings.secret_key.get_secret_value()
    password_right = _verify(account.password_hash, password)
    step = _code_step(account, code, secret_key, now)
    code_right = step is not None and (account.totp_last_step is None or step > account.totp_last_step)
    # Checked after both factors so a locked or inactive account costs the same work as any other.
    if not account.active or _locked(account, now):
        raise SignInFailed
    if not (password_right and code_right):
        _count_failure(session, account, settings, now)
        raise SignInFailed
    account.failed_attempts = 0
    account.locked_until = None
    account.totp_last_step = step
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    session.flush()
    return account


def sign_in_linked(
    *,
    session: Session,
    issuer: str,
    subject: str,
    user_name: str,
    display_name: str,
    grants: Sequence[tuple[str, str | None]],
    now: datetime | None = None,
) -> StaffAccount:
    """The account linked to the OpenID provider's (issuer, subject), created at the first sign-in.

    The provider has authenticated the person; the account takes the user and display names it
    gives, and `grants` (role, region) replace the account's own, so a change at the provider
    takes effect at the next sign-in (audited). Linked by (issuer, subject) only: a user name held
    by another account, a local one included, is refused, never taken over. An inactive or locked
    account is refused like a failed sign-in. Two first sign-ins of the person at the same instant
    link one account: the one that loses the race on the database's unique constraints takes the
    account the other made.
    """
    now = now or utcnow()
    for role, region in grants:
        check_grant(role, region)
    if len(user_name) > USER_NAME_LENGTH:
        message = _("the user name is longer than {length} characters").format(length=USER_NAME_LENGTH)
        raise Problem(message, field="user_name")
    actor = f"oidc:{issuer}"
    account = _linked_account(session, issuer, subject)
    if account is None:
        account = _create_linked(session, issuer, subject, user_name, display_name, now, actor)
    if not account.active or _locked(account, now):
        raise SignInFailed
    _rename_linked(session, account, user_name)
    account.display_name = display_name
    _replace_grants(session, account, grants, actor)
    return account


def _create_linked(
    session: Session, issuer: str, subject: str, user_name: str, display_name: str, now: datetime, actor: str
) -> StaffAccount:
    """A new account linked to (issuer, subject), or the one a concurrent first sign-in of the person just made.

    The database's unique constraints decide, not a look-up first: a look-up cannot see the
    account another request is creating at the same instant.
    """
    account = StaffAccount(
        user_name=user_name,
        display_name=display_name,
        password_hash=None,
        failed_attempts=0,
        active=True,
        created_at=now,
        oidc_issuer=issuer,
        oidc_subject=subject,
    )
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:  # the same person's other request, or another person of that user name, got there first
        linked = _linked_account(session, issuer, subject)
        if linked is None:
            raise _user_name_taken(user_name) from None
        return linked
    _audit(session, actor, "staff.created", account, display_name=display_name, issuer=issuer)
    return account


def _rename_linked(session: Session, account: StaffAccount, user_name: str) -> None:
    """Take the user name the provider now gives the person, unless another account holds it (even since just now)."""
    if account.user_name == user_name:
        return
    try:
        with session.begin_nested():
            account.user_name = user_name
    except IntegrityError:  # another account holds the name
        raise _user_name_taken(user_name) from None


def _user_name_taken(user_name: str) -> Conflict:
    message = _("the user name '{user}' belongs to another staff account: it is not linked to the OpenID provider")
    return Conflict(message.format(user=user_name), field="user_name")


def _replace_grants(
    session: Session, account: StaffAccount, grants: Sequence[tuple[str, str | None]], actor: str
) -> None:
    held = _grants(session, account.id)
    before = [(grant.role, grant.region) for grant in held]
    after = list(dict.fromkeys(grants))
    if sorted(before, key=str) == sorted(after, key=str):
        return
    for grant in held:
        session.delete(grant)
    session.add_all(RoleGrant(account_id=account.id, role=role, region=region) for role, region in after)
    session.flush()
    _audit(
        session,
        actor,
        "staff.grants-replaced",
        account,
        before=[_grant_text(role, region) for role, region in before],
        after=[_grant_text(role, region) for role, region in after],
    )


def _grant_text(role: str, region: str | None) -> str:
    return f"{role}@{region}" if region else role


def open_session(
    *,
    session: Session,
    account: StaffAccount,
    kind: SessionKind,
    settings: Settings,
    id_token: str | None = None,
    now: datetime | None = None,
) -> OpenedSession:
    """A new session of the account; `id_token` is the OpenID provider's, kept for its logout (`sign_out_linked`)."""
    now = now or utcnow()
    lifetime = settings.staff_cookie_absolute_minutes if kind == "cookie" else settings.staff_bearer_minutes
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + timedelta(minutes=lifetime)
    session.add(
        StaffSession(
            token_hash=_token_hash(token),
            account_id=account.id,
            kind=kind,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            revoked=False,
            oidc_id_token=_seal(id_token, settings.secret_key.get_secret_value(), ID_TOKEN_KEY_PURPOSE)
            if id_token
            else None,
        )
    )
    session.flush()
    return OpenedSession(token=token, kind=kind, expires_at=expires_at)


def resolve(*, session: Session, token: str, settings: Settings, now: datetime | None = None) -> SignedIn:
    """The account behind a live session token and its grants; the session's last use moves to `now`.

    Refused (`SessionInvalid`): unknown, revoked, past its absolute expiry, a cookie session unused
    for longer than the idle timeout, or an account that is inactive or locked.
    """
    now = now or utcnow()
    row = _live_session(session, token, settings, now)
    account = session.get(StaffAccount, row.account_id)
    if account is None or not account.active or _locked(account, now):
        raise SessionInvalid
    row.last_seen_at = now
    session.flush()
    return SignedIn(account=account, grants=tuple(_grants(session, account.id)))


def sign_out(*, session: Session, token: str) -> None:
    """Revoke one session (an unknown or already revoked token is not an error: the outcome is the same)."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _token_hash(token))
        .values(revoked=True, oidc_id_token=None)
    )


def sign_out_linked(*, session: Session, token: str, settings: Settings) -> str | None:
    """Revoke one session; the OpenID provider's ID token it kept, for the provider's logout, is forgotten with it.

    None when the session kept none (unknown, already signed out, a local sign-in) or when it
    cannot be opened any more (`SECRET_KEY` changed since): the provider's logout then goes without it.
    """
    sealed = session.scalar(select(StaffSession.oidc_id_token).where(StaffSession.token_hash == _token_hash(token)))
    sign_out(session=session, token=token)
    if sealed is None:
        return None
    try:
        return _open(sealed, settings.secret_key.get_secret_value(), ID_TOKEN_KEY_PURPOSE)
    except InvalidTag:
        return None


def sign_out_everywhere(*, session: Session, account_id: int) -> int:
    """Revoke every session of the account; how many were live."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.account_id == account_id, StaffSession.revoked.is_(False))
        .values(revoked=True, oidc_id_token=None)
    )
    return result.rowcount


def grant_role(
    *, session: Session, user_name: str, role: str, region: str | None = None, actor: str = "system"
) -> RoleGrant:
    """Let the account act in `role` (in `region`, or everywhere); granting it again changes nothing. Audited."""
    check_grant(role, region)
    account = _existing(session, user_name)
    existing = _grant(session, account.id, role, region)
    if existing is not None:
        return existing
    grant = RoleGrant(account_id=account.id, role=role, region=region)
    session.add(grant)
    session.flush()
    _audit(session, actor, "staff.granted", account, role=role, region=region)
    return grant


def check_grant(role: str, region: str | None) -> None:
    """Refuse a role no installed part declares, and a region on a role that is not regional."""
    known = installed_roles()
    if role not in known:
        message = _("unknown role '{role}'; installed roles: {roles}").format(role=role, roles=", ".join(sorted(known)))
        raise Problem(message, field="role")
    if region is not None and not known[role].regional:
        raise Problem(
            _("the role '{role}' is not regional: grant it without a region").format(role=role), field="region"
        )


def revoke_grant(
    *, session: Session, user_name: str, role: str, region: str | None = None, actor: str = "system"
) -> None:
    account = _existing(session, user_name)
    grant = _grant(session, account.id, role, region)
    if grant is None:
        raise NotFound(_("'{user}' holds no grant of '{role}' there").format(user=user_name, role=role))
    session.delete(grant)
    session.flush()
    _audit(session, actor, "staff.grant-revoked", account, role=role, region=region)


def unlock(*, session: Session, user_name: str, actor: str = "system") -> StaffAccount:
    account = _existing(session, user_name)
    account.failed_attempts = 0
    account.locked_until = None
    session.flush()
    _audit(session, actor, "staff.unlocked", account)
    return account


def list_accounts(*, session: Session) -> list[SignedIn]:
    """Every account with its grants, by id."""
    accounts = session.scalars(select(StaffAccount).order_by(StaffAccount.id))
    return [SignedIn(account=account, grants=tuple(_grants(session, account.id))) for account in accounts]


def is_locked(account: StaffAccount, now: datetime | None = None) -> bool:
    return _locked(account, now or utcnow())


def _live_session(session: Session, token: str, settings: Settings, now: datetime) -> StaffSession:
    row = session.scalars(select(StaffSession).where(StaffSession.token_hash == _token_hash(token))).one_or_none()
    if row is None or row.revoked or as_utc(row.expires_at) <= now:
        raise SessionInvalid
    idle = timedelta(minutes=settings.staff_cookie_idle_minutes)
    if row.kind == "cookie" and as_utc(row.last_seen_at) + idle <= now:
        raise SessionInvalid
    return row


def _count_failure(session: Session, account: StaffAccount, settings: Settings, now: datetime) -> None:
    account.failed_attempts += 1
    if account.failed_attempts >= settings.staff_max_failed_sign_ins:
        account.locked_until = now + timedelta(minutes=settings.staff_lockout_minutes)
        account.failed_attempts = 0
        _audit(session, "system", "staff.locked", account, until=account.locked_until.isoformat())
    session.flush()


def _code_step(account: StaffAccount, code: str, secret_key: str, now: datetime) -> int | None:
    """The time step `code` belongs to, one step of clock drift either way allowed; None when it is wrong."""
    if account.totp_secret is None:
        return None
    totp = pyotp.TOTP(_open(account.totp_secret, secret_key, TOTP_KEY_PURPOSE))
    current = totp.timecode(now)
    return next(
        (step for step in (current - 1, current, current + 1) if hmac.compare_digest(totp.generate_otp(step), code)),
        None,
    )


def _locked(account: StaffAccount, now: datetime) -> bool:
    return account.locked_until is not None and as_utc(account.locked_until) > now


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _seal(secret: str, secret_key: str, purpose: str) -> str:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(derive_key(secret_key, purpose)).encrypt(nonce, secret.encode(), None)
    return base64.b64encode(nonce + sealed).decode()


def _open(sealed: str, secret_key: str, purpose: str) -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(derive_key(secret_key, purpose)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()


def _linked_account(session: Session, issuer: str, subject: str) -> StaffAccount | None:
    return session.scalars(
        select(StaffAccount).where(StaffAccount.oidc_issuer == issuer, StaffAccount.oidc_subject == subject)
    ).one_or_none()


def _account_named(session: Session, user_name: str) -> StaffAccount | None:
    return session.scalars(select(StaffAccount).where(StaffAccount.user_name == user_name)).one_or_none()


def _existing(session: Session, user_name: str) -> StaffAccount:
    account = _account_named(session, user_name)
    if account is None:
        raise NotFound(_("no staff account named '{user}'").format(user=user_name))
    return account


def _grants(session: Session, account_id: int) -> list[RoleGrant]:
    return list(session.scalars(select(RoleGrant).where(RoleGrant.account_id == account_id).order_by(RoleGrant.id)))


def _grant(session: Session, account_id: int, role: str, region: str | None) -> RoleGrant | None:
    return next((g for g in _grants(session, account_id) if g.role == role and g.region == region), None)


def _audit(session: Session, actor: str, action: str, account: StaffAccount, **detail: object) -> None:
    detail = {"user_name": account.user_name, **detail}
    audit.record(session=session, actor=actor, action=action, subject=f"staff:{account.id}", detail=detail)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
