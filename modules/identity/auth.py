"""Authentication and eKYC for relying parties, and the OTPs they rest on.

Every request names a transaction ID and carries the resident's consent; the
resident's per-factor locks and a brute-force throttle (failures per ID and partner
in a window lock the ID out for that partner for a while: one partner cannot lock a
resident out of the others) apply before any factor is checked.
Each attempt is written to the core audit log under `person:<national ID>`,
which is what the resident reads back.

OTPs: a request is refused (429, Retry-After) past `otp_per_id_max` codes to one ID in
`otp_per_id_window_seconds` or `otp_per_partner_max` codes requested by one partner in
`otp_per_partner_window_seconds`, counted in the database under a row lock per key
(`identity_rate_gate`), so the limits hold across workers and machines. A new code voids
every live code of the ID; a code is kept only as an HMAC-SHA256 under SECRET_KEY, and the
text carrying it is sealed in the outbox (notifier.py).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Row, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Problem, Unprocessable
from ...core.i18n import _
from ...core.models import Partner, utcnow
from . import groupcommit, idnumbers, policies, vids
from .config import IdentitySettings
from .domain import AuthAttempt, Demographics
from .metrics import AUTHENTICATIONS, authentication_outcome
from .models import AuthLock, AuthThrottle, Otp, Person, PersonStatus, RateGate, VirtualId
from .notifier import Notifier
from .schemas import EKYC_ATTRIBUTES
from .service import SECTION, name_score, normalise_name, normalised_phone

FACTORS = ("demo", "otp")
log = structlog.get_logger(__name__)  # outcomes and partner ids only: never the ID, a name or a code


class LockedOut(Problem):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            _("too many failed attempts; try again later"),
            kind="locked-out",
            field="individual_id",
            status=429,
            headers={"Retry-After": str(retry_after)},
        )


class TooManyOtps(Problem):
    """An OTP request over a rate limit (429, with the seconds until one is admitted in Retry-After)."""

    def __init__(self, detail: str, retry_after: int, *, field: str | None = None) -> None:
        super().__init__(
            detail, kind="too-many-otps", status=429, headers={"Retry-After": str(retry_after)}, field=field
        )


class ConsentRequired(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            _("the resident's consent is required (consent: true)"), kind="consent-required", field="consent"
        )


@dataclass
class AuthResult:
    transaction_id: str
    authenticated: bool
    factors: list[str]
    national_id: str
    reason: str | None = None
    locked_out: bool = False
    retry_after: int | None = None  # seconds, when locked out
    attributes: dict[str, Any] = field(default_factory=dict)
    partner_token: str | None = None
    # What did not match when the factors were checked: "otp", and each claimed demographic attribute
    # (Demographics' field names) that differs from the register.
    mismatched: list[str] = field(default_factory=list)


# Built once: constructing SQL expressions per request costs more than running them. Table
# columns rather than the mapped class: an authentication reads one row, and loading it as an
# ORM object costs more than the query. The person, their throttle state with this partner and
# whether they locked any factor, in one round trip.
_PEOPLE, _THROTTLES, _LOCKS = Person.__table__, AuthThrottle.__table__, AuthLock.__table__
_THROTTLE_OF_PARTNER = (_THROTTLES.c.national_id == bindparam("national_id")) & (
    _THROTTLES.c.partner_id == bindparam("partner_id")
)
_PERSON_FOR_AUTH = select(
    *(_PEOPLE.c[name] for name in ("national_id", "status", *EKYC_ATTRIBUTES)),
    select(_THROTTLES.c.locked_until).where(_THROTTLE_OF_PARTNER).scalar_subquery().label("locked_until"),
    select(_THROTTLES.c.failures).where(_THROTTLE_OF_PARTNER).scalar_subquery().label("failures"),
    select(func.count()).where(_LOCKS.c.national_id == bindparam("national_id")).scalar_subquery().label("locks"),
).where(_PEOPLE.c.national_id == bindparam("national_id"))


def _national_id(
    session: Session, individual_id: str, id_type: str, country: LoadedCountry
) -> tuple[str, VirtualId | None]:
    if id_type == "vid":
        vid = vids.usable_vid(session=session, vid=individual_id)
        return vid.national_id, vid
    return idnumbers.validate(individual_id, length=country.section(SECTION).id_length), None


def resolve(
    *, session: Session, individual_id: str, id_type: str, country: LoadedCountry
) -> tuple[Person, VirtualId | None]:
    """The person behind a national ID or a usable VID; a bad check digit is refused first."""
    if id_type == "vid":
        vid = vids.usable_vid(session=session, vid=individual_id)
        national_id = vid.national_id
    else:
        vid = None
        national_id = idnumbers.validate(individual_id, length=country.section(SECTION).id_length)
    person = session.scalar(select(Person).where(Person.national_id == national_id))
    if person is None:
        raise _nobody_holds(individual_id)
    return person, vid


def _nobody_holds(individual_id: str) -> NotFound:
    return NotFound(_("no person holds '{national_id}'").format(national_id=individual_id), field="individual_id")


def request_otp(
    *,
    session: Session,
    individual_id: str,
    id_type: str,
    transaction_id: str,
    partner: Partner,
    country: LoadedCountry,
    settings: IdentitySettings,
    secret: str,
    notifier: Notifier,
) -> str:
    """Send a one-time code to the phone on file; returns the masked number."""
    person, _vid = resolve(session=session, individual_id=individual_id, id_type=id_type, country=country)
    if person.status != PersonStatus.ACTIVE:
        raise Conflict(_("the ID is {status}, not active").format(status=person.status), field="individual_id")
    if person.phone is None:
        raise Conflict(_("no phone number is registered for this ID; OTP is unavailable"), field="individual_id")
    throttle = _throttle(session, person.national_id, partner.id)
    if _locked_out(throttle):
        assert throttle is not None and throttle.locked_until is not None
        raise LockedOut(_seconds_until(vids.aware(throttle.locked_until)))
    _admit_otp(session, national_id=person.national_id, partner_id=partner.id, settings=settings)
    # Only the newest code works: one leaked or read over a shoulder earlier is void.
    session.execute(update(Otp).where(Otp.national_id == person.national_id, Otp.used.is_(False)).values(used=True))
    code = f"{secrets.randbelow(10**settings.otp_length):0{settings.otp_length}d}"
    expires_at = utcnow() + timedelta(seconds=settings.otp_ttl_seconds)
    session.add(
        Otp(
            national_id=person.national_id,
            transaction_id=transaction_id,
            partner_id=partner.id,
            code_hash=_otp_hash(secret, person.national_id, transaction_id, code),
            expires_at=expires_at,
            used=False,
        )
    )
    minutes = max(1, settings.otp_ttl_seconds // 60)
    notifier.send(
        session=session,
        recipient=person.phone,
        body=_(
            "{code} is your one-time code for {partner} (transaction {transaction_id}); valid {minutes} min. "
            "Never share it."
        ).format(code=code, partner=partner.name, transaction_id=transaction_id, minutes=minutes),
        # A code that reaches the phone after it died only confuses: the message dies with it.
        expires_at=expires_at,
    )
    audit.record(
        session=session,
        actor=partner.name,
        action="identity.otp.sent",
        subject=f"person:{person.national_id}",
        detail={"transaction_id": transaction_id, "partner_id": partner.id},
    )
    return mask_phone(person.phone)


def authenticate(
    *,
    session: Session,
    attempt: AuthAttempt,
    partner: Partner,
    country: LoadedCountry,
    settings: IdentitySettings,
    secret: str,
    ekyc: bool = False,
) -> AuthResult:
    """Yes/no authentication (or eKYC); the outcome is audited whatever it is."""
    if not attempt.consent:
        raise ConsentRequired()
    factors = [name for name, given in (("demo", attempt.demographics), ("otp", attempt.otp)) if given is not None]
    if not factors:
        raise Unprocessable("demographics, otp: " + _("give at least one factor to check"))
    policy = policies.require_policy(session=session, partner=partner, factors=factors, ekyc=ekyc)
    national_id, vid = _national_id(session, attempt.individual_id, attempt.id_type, country)
    # A Core query does not autoflush: flush first, so the row reflects writes still pending in this
    # session (those of an earlier request in the same group commit).
    session.flush()
    person = (
        session.connection().execute(_PERSON_FOR_AUTH, {"national_id": national_id, "partner_id": partner.id}).first()
    )
    if person is None:
        raise _nobody_holds(attempt.individual_id)
    result = AuthResult(
        transaction_id=attempt.transaction_id, authenticated=False, factors=factors, national_id=national_id
    )
    # Locks are rare: the row says whether there are any, and only then are they listed.
    locked = locked_factors(session=session, national_id=national_id) if person.locks else []
    if person.locked_until is not None and vids.aware(person.locked_until) > utcnow():
        result.reason, result.locked_out = "too many failed attempts; locked out for now", True
        result.retry_after = _seconds_until(vids.aware(person.locked_until))
    elif person.status != PersonStatus.ACTIVE:
        result.reason = f"the ID is {person.status}"
    elif set(locked) & set(factors):
        result.reason = f"locked by the resident: {', '.join(locked)}"
    else:
        failed = []
        for factor in factors:
            wrong = _factor_mismatches(session, factor, attempt, person, partner, settings, secret, country)
            if wrong:
                failed.append(factor)
                result.mismatched.extend(wrong)
        if failed:
            result.reason = f"did not match: {', '.join(failed)}"
            _count_failure(session, _throttle(session, national_id, partner.id), national_id, partner.id, settings)
        else:
            result.authenticated = True
            if person.failures:
                session.execute(
                    delete(AuthThrottle).where(
                        AuthThrottle.national_id == national_id, AuthThrottle.partner_id == partner.id
                    )
                )
            if vid is not None and vid.uses_left is not None:
                vid.uses_left -= 1
    if result.authenticated and ekyc:
        result.attributes = {
            name: _attribute(person, name) for name in EKYC_ATTRIBUTES if name in policy.ekyc_attributes
        }
        result.partner_token = partner_token(secret=secret, partner_id=partner.id, national_id=national_id)
    audit.record(
        session=session,
        actor=partner.name,
        action="identity.ekyc" if ekyc else "identity.auth",
        subject=f"person:{national_id}",
        detail={
            "transaction_id": attempt.transaction_id,
            "partner_id": partner.id,
            "factors": factors,
            "id_type": attempt.id_type,
            "result": "success" if result.authenticated else "failure",
            "reason": result.reason,
            "attributes": sorted(result.attributes),
        },
    )
    return result


def authenticate_committed(
    *,
    session_factory: sessionmaker[Session],
    attempt: AuthAttempt,
    partner: Partner,
    country: LoadedCountry,
    settings: IdentitySettings,
    secret: str,
    ekyc: bool = False,
) -> AuthResult:
    """`authenticate` in a transaction of its own or shared with concurrent requests (groupcommit),
    returning once its outcome and audit record are committed."""

    def work(session: Session) -> AuthResult:
        return authenticate(
            session=session,
            attempt=attempt,
            partner=partner,
            country=country,
            settings=settings,
            secret=secret,
            ekyc=ekyc,
        )

    try:
        result = groupcommit.for_factory(session_factory).run(work)
    except Problem:  # no consent, no policy, nobody holds the ID: refused before any factor was checked
        AUTHENTICATIONS.labels(outcome="refused").inc()
        log.info("identity.authentication", outcome="refused", partner_id=partner.id, ekyc=ekyc)
        raise
    # Logged here, in the request's own context: the group commit may run `work` in another request's thread.
    outcome = authentication_outcome(
        authenticated=result.authenticated, locked_out=result.locked_out, reason=result.reason
    )
    AUTHENTICATIONS.labels(outcome=outcome).inc()
    log.info("identity.authentication", outcome=outcome, factors=result.factors, partner_id=partner.id, ekyc=ekyc)
    return result


def verify_otp(
    *, session: Session, national_id: str, transaction_id: str, partner_id: int, code: str, secret: str
) -> bool:
    """True, consuming the OTP, when `code` is the unused, unexpired OTP sent for this transaction."""
    query = select(Otp).where(
        Otp.national_id == national_id,
        Otp.transaction_id == transaction_id,
        Otp.partner_id == partner_id,
        Otp.used.is_(False),
    )
    expected = _otp_hash(secret, national_id, transaction_id, code)
    now = utcnow()
    for otp in session.scalars(query):
        if hmac.compare_digest(otp.code_hash, expected) and vids.aware(otp.expires_at) > now:
            otp.used = True
            return True
    return False


def set_lock(*, session: Session, national_id: str, factor: str, locked: bool, actor: str) -> None:
    """The resident locks or unlocks one authentication factor."""
    if factor not in FACTORS:
        raise Unprocessable(
            _("'{factor}' is not a factor; allowed: {allowed}").format(factor=factor, allowed=", ".join(FACTORS)),
            field="factor",
        )
    session.execute(delete(AuthLock).where(AuthLock.national_id == national_id, AuthLock.factor == factor))
    if locked:
        session.add(AuthLock(national_id=national_id, factor=factor))
    audit.record(
        session=session,
        actor=actor,
        action=f"identity.factor.{'locked' if locked else 'unlocked'}",
        subject=f"person:{national_id}",
        detail={"factor": factor},
    )


def locked_factors(*, session: Session, national_id: str) -> list[str]:
    return sorted(session.scalars(select(AuthLock.factor).where(AuthLock.national_id == national_id)))


def partner_token(*, secret: str, partner_id: int, national_id: str) -> str:
    """A per-partner pseudonym of the resident: stable for one partner, unlinkable across partners,
    and not an ID number, so it cannot be used to authenticate."""
    return hmac.new(secret.encode(), f"partner-token:{partner_id}:{national_id}".encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    return phone[:4] + "*" * max(0, len(phone) - 6) + phone[-2:]


def record_failure(*, session: Session, national_id: str, partner_id: int, settings: IdentitySettings) -> None:
    _count_failure(session, _throttle(session, national_id, partner_id), national_id, partner_id, settings)


def is_locked_out(*, session: Session, national_id: str, partner_id: int) -> bool:
    return _locked_out(_throttle(session, national_id, partner_id))


def _admit_otp(session: Session, *, national_id: str, partner_id: int, settings: IdentitySettings) -> None:
    """Raise TooManyOtps when one more code for this ID, or from this partner, would pass a limit.

    Each key's gate row is written first (partner, then person: one order, so no deadlock), which
    holds every other request of the same key until this transaction ends; the counts read next
    are therefore exact across workers and machines. The codes themselves are what is counted."""
    _hold_gate(session, f"otp-partner:{partner_id}")
    _hold_gate(session, f"otp-person:{national_id}")
    now = utcnow()
    retry = _window_full(
        session,
        Otp.partner_id == partner_id,
        settings.otp_per_partner_max,
        settings.otp_per_partner_window_seconds,
        now,
    )
    if retry is not None:
        raise TooManyOtps(
            _("this partner may request at most {count} one-time codes every {seconds} s; retry in {retry} s").format(
                count=settings.otp_per_partner_max, seconds=settings.otp_per_partner_window_seconds, retry=retry
            ),
            retry,
        )
    retry = _window_full(
        session, Otp.national_id == national_id, settings.otp_per_id_max, settings.otp_per_id_window_seconds, now
    )
    if retry is not None:
        raise TooManyOtps(
            _("at most {count} one-time codes may be sent to one ID every {seconds} s; retry in {retry} s").format(
                count=settings.otp_per_id_max, seconds=settings.otp_per_id_window_seconds, retry=retry
            ),
            retry,
            field="individual_id",
        )


def _window_full(
    session: Session, which: ColumnElement[bool], maximum: int, window_seconds: int, now: datetime
) -> int | None:
    """Seconds until the window of `which` codes has room again; None when it has room now."""
    window = timedelta(seconds=window_seconds)
    newest = session.scalars(
        select(Otp.created_at)
        .where(which, Otp.created_at > now - window)
        .order_by(Otp.created_at.desc())
        .limit(maximum)
    ).all()
    if len(newest) < maximum:
        return None
    return _seconds_until(vids.aware(newest[-1]) + window, now)


def _hold_gate(session: Session, key: str) -> None:
    table = RateGate.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql_insert(table).values(key=key, hits=0).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(table).values(key=key, hits=0).on_conflict_do_nothing())
    else:  # pragma: no cover - the stack runs on PostgreSQL and SQLite
        raise NotImplementedError(dialect)
    # A write, not a read: SQLite serialises at the first write, PostgreSQL locks the row.
    session.execute(update(table).where(table.c.key == key).values(hits=table.c.hits + 1))


def _seconds_until(moment: datetime, now: datetime | None = None) -> int:
    return max(1, math.ceil((moment - (now or utcnow())).total_seconds()))


def _factor_mismatches(
    session: Session,
    factor: str,
    attempt: AuthAttempt,
    person: Row[Any],
    partner: Partner,
    settings: IdentitySettings,
    secret: str,
    country: LoadedCountry,
) -> list[str]:
    """What of the factor did not match (empty: it matched)."""
    if factor == "otp":
        assert attempt.otp is not None
        matched = verify_otp(
            session=session,
            national_id=person.national_id,
            transaction_id=attempt.transaction_id,
            partner_id=partner.id,
            code=attempt.otp,
            secret=secret,
        )
        return [] if matched else ["otp"]
    assert attempt.demographics is not None
    return _demographic_mismatches(attempt.demographics, person, settings, country)


def _demographic_mismatches(
    claim: Demographics, person: Row[Any], settings: IdentitySettings, country: LoadedCountry
) -> list[str]:
    """The claimed attributes that differ from the register; all of them when nothing was claimed."""
    wrong = []
    for name in ("given_name", "family_name"):
        claimed = getattr(claim, name)
        if claimed is not None and name_score(normalise_name(claimed), normalise_name(getattr(person, name))) < (
            settings.auth_name_threshold
        ):
            wrong.append(name)
    if claim.full_name is not None and not _full_name_matches(claim.full_name, person, settings):
        wrong.append("full_name")
    if claim.date_of_birth is not None and claim.date_of_birth != person.date_of_birth:
        wrong.append("date_of_birth")
    if claim.sex is not None and claim.sex != person.sex:
        wrong.append("sex")
    if claim.phone is not None:
        try:
            phone_matches = normalised_phone(claim.phone, country.profile.phone_region) == person.phone
        except Unprocessable:
            phone_matches = False
        if not phone_matches:
            wrong.append("phone")
    claimed_any = any(
        getattr(claim, name) is not None
        for name in ("given_name", "family_name", "full_name", "date_of_birth", "sex", "phone")
    )
    return wrong if claimed_any else ["demographics"]


def _full_name_matches(claimed: str, person: Row[Any], settings: IdentitySettings) -> bool:
    """The whole name against the registered one, in the register's script or any other it holds."""
    names = [(person.given_name, person.family_name)]
    names += [
        (other.get("given_name", ""), other.get("family_name", ""))
        for other in (person.other_names or {}).values()
        if isinstance(other, dict)
    ]
    wanted = normalise_name(claimed)
    return any(
        name_score(wanted, normalise_name(f"{given} {family}")) >= settings.auth_name_threshold
        for given, family in names
    )


def _throttle(session: Session, national_id: str, partner_id: int) -> AuthThrottle | None:
    return session.scalar(
        select(AuthThrottle).where(AuthThrottle.national_id == national_id, AuthThrottle.partner_id == partner_id)
    )


def _locked_out(throttle: AuthThrottle | None) -> bool:
    return throttle is not None and throttle.locked_until is not None and vids.aware(throttle.locked_until) > utcnow()


def _count_failure(
    session: Session, throttle: AuthThrottle | None, national_id: str, partner_id: int, settings: IdentitySettings
) -> AuthThrottle:
    now = utcnow()
    window = timedelta(seconds=settings.auth_failure_window_seconds)
    if throttle is None:
        throttle = AuthThrottle(national_id=national_id, partner_id=partner_id, failures=0, window_start=now)
        session.add(throttle)
    elif vids.aware(throttle.window_start) + window < now or (
        throttle.locked_until is not None and vids.aware(throttle.locked_until) <= now
    ):
        throttle.failures, throttle.window_start, throttle.locked_until = 0, now, None
    throttle.failures += 1
    if throttle.failures >= settings.auth_max_failures:
        throttle.locked_until = now + timedelta(seconds=settings.auth_lockout_seconds)
    return throttle


def _attribute(person: Row[Any], name: str) -> Any:
    value = getattr(person, name)
    return value.isoformat() if isinstance(value, datetime) or hasattr(value, "isoformat") else value


def _otp_hash(secret: str, national_id: str, transaction_id: str, code: str) -> str:
    message = f"otp:{national_id}:{transaction_id}:{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
