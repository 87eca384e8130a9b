"""MOSIP ID Authentication (IDA) v1.2/1.3 on our own services: an adapter, not a second implementation.

`POST /idauthentication/v1/{auth,kyc,otp}/{misp_license_key}/{partner_id}/{api_key}` take MOSIP's
request formats and answer in MOSIP's; underneath, the same services as our own routes run:
`auth.authenticate_committed` (policy, consent, locks, throttle, audit, group commit) for auth and
eKYC, `auth.request_otp` (rate limits, outbox) for OTPs, the partner token as `authToken`.

A relying party is one of our partners (core_partner) onboarded here with its certificate
(`onboard`, CLI `identity mosip onboard`): onboarding issues its MISP licence key and partner API
key (stored as SHA-256 hashes), which its request URLs carry. Each request is checked in MOSIP's
order: partner and keys, the body's signature against the onboarded certificate, the envelope,
the time, decryption and the HMAC, consent, the policy; then the factors.

Errors are MOSIP's codes and English texts (IdAuthenticationErrorConstants of mosip/id-authentication),
a wire format relying parties branch on: they are not translated. Every answer is 200 with
`errors[]` on failure, as MOSIP's IDA answers, and signed (`response-signature`). Where MOSIP's
Python client (`mosip-auth-sdk`) differs from MOSIP's documents we follow the client:
docs/standards.md lists those deviations. Beside this file: mosip_errors.py (the error catalogue),
mosip_attributes.py (MOSIP's demographic names to ours), mosip_crypto.py (signatures, encryption,
our key pair), mosip_router.py (the routes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import NotFound, Problem, Unprocessable
from ...core.i18n import _
from ...core.models import Partner, utcnow
from . import auth, mosip_crypto, policies
from .config import IdentitySettings
from .domain import AuthAttempt
from .models import MosipPartner, PersonStatus
from .mosip_attributes import MOSIP_NAMES, claimed, shared
from .mosip_errors import (
    CERTIFICATE_NOT_IN_HEADER,
    CERTIFICATE_NOT_MATCHED,
    HMAC_FAILED,
    LICENCE_KEY_UNKNOWN,
    NO_AUTH_TYPE,
    NO_CONSENT,
    NO_OTP_CHANNEL,
    NO_POLICY,
    NOT_FOR_EKYC,
    OTP_FLOODED,
    OTP_GENERATION_LOCKED,
    OTP_INVALID,
    OTP_NOT_ALLOWED,
    OTP_VALIDATION_LOCKED,
    PARTNER_API_EXPIRED,
    PARTNER_DEACTIVATED,
    PARTNER_UNKNOWN,
    SIGNATURE_FAILED,
    UNABLE_TO_DECRYPT,
    IdaError,
    IdaErrors,
    id_error,
    invalid,
    mismatch,
    missing,
    not_allowed_by_policy,
    not_registered,
    too_late,
    unsupported,
)
from .notifier import Notifier

log = structlog.get_logger(__name__)  # outcomes and error codes only: never an ID, a name or a code

OPERATIONS = {"auth": "mosip.identity.auth", "kyc": "mosip.identity.kyc", "otp": "mosip.identity.otp"}
AUTH_SCOPE, EKYC_SCOPE = "identity:auth", "identity:ekyc"
ID_TYPES = {"UIN": "nid", "VID": "vid"}
_TRANSACTION_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")  # our own API's transaction IDs; MOSIP's are 10 digits
_VERSION = re.compile(r"^\d{1,3}(\.\d{1,3}){0,2}$")
_INDIVIDUAL_ID = re.compile(r"^[0-9]{1,32}$")
DEFAULT_VERSION = "1.0"


# Onboarding (CLI; the licence and API keys are shown once)


@dataclass(frozen=True)
class Onboarded:
    partner_id: int
    misp_license_key: str
    api_key: str
    certificate_sha256: str


def onboard(*, session: Session, partner_id: int, certificate_pem: str, actor: str) -> Onboarded:
    """Register (or re-register) a partner's certificate for the MOSIP routes; issues fresh keys."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(
            "partner_id: " + _("no partner {partner}; create one with `partner create`").format(partner=partner_id)
        )
    try:
        certificate = mosip_crypto.load_certificate(certificate_pem)
    except mosip_crypto.CryptoRefused as refused:
        raise Unprocessable(
            "certificate: "
            + _("refused ({reason}); give a PEM certificate of an RSA key of 2048 bits or more, valid now").format(
                reason=refused.reason
            )
        ) from refused
    misp_license_key, api_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = session.scalar(select(MosipPartner).where(MosipPartner.partner_id == partner_id))
    if row is None:
        row = MosipPartner(partner_id=partner_id)
        session.add(row)
    row.certificate = certificate_pem if isinstance(certificate_pem, str) else certificate_pem.decode()
    row.certificate_sha256 = mosip_crypto.certificate_sha256(certificate)
    row.misp_key_hash, row.api_key_hash = _hash(misp_license_key), _hash(api_key)
    row.updated_at = utcnow()
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="identity.mosip.onboarded",
        subject=f"partner:{partner_id}",
        detail={"certificate_sha256": row.certificate_sha256},
    )
    return Onboarded(partner_id, misp_license_key, api_key, row.certificate_sha256)


# The requests


@dataclass
class Context:
    """What every MOSIP request needs from the running stack."""

    session: Session
    session_factory: sessionmaker[Session]
    country: LoadedCountry
    settings: IdentitySettings
    secret: str
    notifier: Callable[[], Notifier]


@dataclass
class Answer:
    """A MOSIP answer: its body (JSON text, exactly as signed) and its signature header."""

    body: bytes
    signature: str
    outcome: str
    errors: list[str] = field(default_factory=list)


def handle(
    *,
    operation: str,
    misp_license_key: str,
    partner_id: str,
    api_key: str,
    body: bytes,
    signature: str | None,
    ctx: Context,
) -> Answer:
    """One MOSIP request, whatever is wrong with it: a signed MOSIP answer, never an exception of ours."""
    keys = mosip_crypto.ida_keys(session_factory=ctx.session_factory, settings=ctx.settings, secret=ctx.secret)
    request: dict[str, Any] = {}
    try:
        partner, certificate = _partner(ctx.session, partner_id, misp_license_key, api_key)
        _verify(signature, body, certificate)
        request = _json_object(body, "request")
        _envelope(request, operation, ctx.settings)
        if operation == "otp":
            response = _otp(request, partner, ctx)
        else:
            response = _authenticate(request, operation, partner, certificate, keys, ctx)
        errors: list[IdaError] = []
    except IdaError as error:
        response, errors = _refused(operation), [error]
    except IdaErrors as failed:
        response, errors = _refused(operation), failed.errors
    answer = _answer(operation, request, keys, response=response, errors=errors)
    log.info("identity.mosip", operation=operation, outcome=answer.outcome, errors=answer.errors)
    return answer


def refuse(operation: str, errors: list[IdaError], ctx: Context) -> Answer:
    """An answer refusing before anything was read (a path MOSIP does not have)."""
    keys = mosip_crypto.ida_keys(session_factory=ctx.session_factory, settings=ctx.settings, secret=ctx.secret)
    return _answer(operation, {}, keys, response=_refused(operation), errors=errors)


def _answer(
    operation: str,
    request: dict[str, Any],
    keys: mosip_crypto.IdaKeys,
    *,
    response: dict[str, Any],
    errors: list[IdaError],
) -> Answer:
    version = request.get("version")
    transaction_id = request.get("transactionID")
    document = {
        "id": OPERATIONS.get(operation, OPERATIONS["auth"]),
        "version": version if isinstance(version, str) and _VERSION.match(version) else DEFAULT_VERSION,
        "transactionID": transaction_id if isinstance(transaction_id, str) and len(transaction_id) <= 64 else None,
        "responseTime": _mosip_time(datetime.now(UTC)),
        "response": response,
        "errors": [error.wire() for error in errors] or None,
    }
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    success = response.get("authStatus") or response.get("kycStatus") or (operation == "otp" and not errors)
    outcome = "success" if success and not errors else "refused" if errors else "failure"
    return Answer(body, mosip_crypto.sign(body, keys), outcome, [error.code for error in errors])


def _refused(operation: str) -> dict[str, Any]:
    if operation == "kyc":
        return {"kycStatus": False, "authToken": None, "identity": None, "sessionKey": None, "thumbprint": None}
    if operation == "otp":
        return {"maskedMobile": None, "maskedEmail": None}
    return {"authStatus": False, "authToken": None}


def _partner(
    session: Session, partner_id: str, misp_license_key: str, api_key: str
) -> tuple[Partner, x509.Certificate]:
    if not partner_id.isascii() or not partner_id.isdigit() or len(partner_id) > 10:
        raise PARTNER_UNKNOWN
    row = session.scalar(select(MosipPartner).where(MosipPartner.partner_id == int(partner_id)))
    partner = session.get(Partner, int(partner_id)) if row is not None else None
    if row is None or partner is None or not hmac.compare_digest(row.api_key_hash, _hash(api_key)):
        raise PARTNER_UNKNOWN
    if not hmac.compare_digest(row.misp_key_hash, _hash(misp_license_key)):
        raise LICENCE_KEY_UNKNOWN
    if not partner.active or partner.awaiting_approval:
        raise PARTNER_DEACTIVATED
    expires_at = partner.expires_at
    if expires_at is not None and (expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)) <= utcnow():
        raise PARTNER_API_EXPIRED
    try:
        return partner, mosip_crypto.load_certificate(row.certificate)
    except mosip_crypto.CryptoRefused as refused:  # expired since it was onboarded
        raise CERTIFICATE_NOT_MATCHED from refused


def _verify(signature: str | None, body: bytes, certificate: x509.Certificate) -> None:
    try:
        mosip_crypto.verify_signature(signature, body, certificate)
    except mosip_crypto.CryptoRefused as refused:
        if refused.reason == "missing-certificate":
            raise CERTIFICATE_NOT_IN_HEADER from refused
        if refused.reason == "other-certificate":
            raise CERTIFICATE_NOT_MATCHED from refused
        raise SIGNATURE_FAILED from refused


def _json_object(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid(name) from error
    if not isinstance(value, dict):
        raise invalid(name)
    return value


def _text(request: dict[str, Any], name: str, *, pattern: re.Pattern[str] | None = None, limit: int = 8192) -> str:
    value = request.get(name)
    if value is None or value == "":
        raise missing(name)
    if not isinstance(value, str) or len(value) > limit or (pattern is not None and not pattern.match(value)):
        raise invalid(name)
    return value


def _envelope(request: dict[str, Any], operation: str, settings: IdentitySettings) -> None:
    """The fields every MOSIP request carries, in MOSIP's order of checks."""
    if _text(request, "id", limit=100) != OPERATIONS[operation]:
        raise invalid("id")
    _text(request, "version", pattern=_VERSION, limit=20)
    sent = _text(request, "requestTime", limit=40)
    try:
        moment = datetime.fromisoformat(sent)
    except ValueError as error:
        raise invalid("requestTime") from error
    if moment.tzinfo is None:
        raise invalid("requestTime")
    window = settings.mosip_request_window_seconds
    if abs((datetime.now(UTC) - moment).total_seconds()) > window:
        raise too_late(window)
    _text(request, "transactionID", pattern=_TRANSACTION_ID, limit=64)
    _text(request, "individualId", pattern=_INDIVIDUAL_ID, limit=32)
    id_type = _text(request, "individualIdType", limit=20)
    if id_type not in ID_TYPES:
        raise IdaError("IDA-MLC-015", f"Identity Type - {id_type[:20]} not configured for the country")


def _otp(request: dict[str, Any], partner: Partner, ctx: Context) -> dict[str, Any]:
    channels = request.get("otpChannel")
    if channels is None or channels == []:
        raise NO_OTP_CHANNEL
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise invalid("otpChannel")
    wanted = {channel.lower() for channel in channels}
    if not wanted <= {"phone", "email"}:
        raise invalid("otpChannel")
    if AUTH_SCOPE not in partner.scopes:
        raise OTP_NOT_ALLOWED
    policy = policies.policy_of(session=ctx.session, partner=partner)
    if policy is None:
        raise NO_POLICY
    if "otp" not in policy.auth_types:
        raise OTP_NOT_ALLOWED
    if "phone" not in wanted:  # the register holds no e-mail address
        raise not_registered("Email ID")
    id_type, individual_id = request["individualIdType"], request["individualId"]
    try:
        person, _vid = auth.resolve(
            session=ctx.session, individual_id=individual_id, id_type=ID_TYPES[id_type], country=ctx.country
        )
        if person.status != PersonStatus.ACTIVE:
            raise id_error(id_type, "deactivated")
        if person.phone is None:
            raise not_registered("Phone Number")
        masked = auth.request_otp(
            session=ctx.session,
            individual_id=individual_id,
            id_type=ID_TYPES[id_type],
            transaction_id=request["transactionID"],
            partner=partner,
            country=ctx.country,
            settings=ctx.settings,
            secret=ctx.secret,
            notifier=ctx.notifier(),
        )
    except auth.LockedOut as locked:
        raise OTP_GENERATION_LOCKED from locked
    except auth.TooManyOtps as flooded:
        raise OTP_FLOODED from flooded
    except Problem as problem:
        raise id_error(id_type, problem.kind) from problem
    ctx.session.commit()
    return {"maskedMobile": masked, "maskedEmail": None}


def _authenticate(
    request: dict[str, Any],
    operation: str,
    partner: Partner,
    certificate: x509.Certificate,
    keys: mosip_crypto.IdaKeys,
    ctx: Context,
) -> dict[str, Any]:
    ekyc = operation == "kyc"
    consent = request.get("consentObtained")
    if consent is None:
        raise missing("consentObtained")
    if not isinstance(consent, bool):
        raise invalid("consentObtained")
    thumbprint = _text(request, "thumbprint", limit=100)
    session_key = _text(request, "requestSessionKey", limit=4096)
    encrypted = _text(request, "request", limit=1_000_000)
    request_hmac = _text(request, "requestHMAC", limit=4096)
    requested = request.get("requestedAuth")
    if requested is not None and (
        not isinstance(requested, dict) or not all(isinstance(v, bool) for v in requested.values())
    ):
        raise invalid("requestedAuth")
    if not mosip_crypto.same_thumbprint(thumbprint, keys.certificate):
        raise UNABLE_TO_DECRYPT
    try:
        aes_key, plain = mosip_crypto.open_request(keys.private_key, session_key, encrypted)
    except mosip_crypto.CryptoRefused as refused:
        raise UNABLE_TO_DECRYPT from refused
    if not mosip_crypto.hmac_matches(aes_key, request_hmac, plain):
        raise HMAC_FAILED
    inner = _json_object(plain, "request")
    if not consent:
        raise NO_CONSENT
    demographics = claimed(inner.get("demographics"))
    otp = inner.get("otp")
    if otp is not None and not isinstance(otp, str):
        raise invalid("request/otp")
    otp = otp or None
    if otp is not None and not (otp.isascii() and otp.isdigit() and len(otp) <= 10):
        raise OTP_INVALID
    if inner.get("biometrics"):
        raise unsupported("bio")
    if inner.get("staticPin"):
        raise unsupported("pin")
    factors = [name for name, given in (("demo", demographics), ("otp", otp)) if given is not None]
    for name, flag in (requested or {}).items():  # MOSIP's client sends every flag false; the content decides
        if flag and name in ("bio", "pin"):
            raise unsupported(name)
        if flag and name in ("demo", "otp") and name not in factors:
            raise IdaError("IDA-MLC-013", f"Missing {name} auth attribute")
    if not factors:
        raise NO_AUTH_TYPE
    if AUTH_SCOPE not in partner.scopes and not ekyc:
        raise not_allowed_by_policy(factors[0])
    if ekyc and EKYC_SCOPE not in partner.scopes:
        raise NOT_FOR_EKYC
    policy = policies.policy_of(session=ctx.session, partner=partner)
    if policy is None:
        raise NO_POLICY
    for factor in factors:
        if factor not in policy.auth_types:
            raise not_allowed_by_policy(factor)
    if ekyc and not policy.ekyc_attributes:
        raise NOT_FOR_EKYC
    id_type = request["individualIdType"]
    attempt = AuthAttempt(
        transaction_id=request["transactionID"],
        individual_id=request["individualId"],
        consent=True,
        id_type=ID_TYPES[id_type],
        demographics=demographics,
        otp=otp,
    )
    try:
        result = auth.authenticate_committed(
            session_factory=ctx.session_factory,
            attempt=attempt,
            partner=partner,
            country=ctx.country,
            settings=ctx.settings,
            secret=ctx.secret,
            ekyc=ekyc,
        )
    except Problem as problem:
        raise id_error(id_type, problem.kind) from problem
    if not result.authenticated:
        raise IdaErrors(_failures(result, id_type, factors, ctx.session))
    token = auth.partner_token(secret=ctx.secret, partner_id=partner.id, national_id=result.national_id)
    if not ekyc:
        return {"authStatus": True, "authToken": token}
    identity = json.dumps(shared(result.attributes, ctx.country), ensure_ascii=False).encode()
    sealed, sealed_key = mosip_crypto.seal_to(certificate, identity)
    return {
        "kycStatus": True,
        "authToken": token,
        "identity": sealed,
        "sessionKey": sealed_key,
        "thumbprint": mosip_crypto.thumbprint(certificate),
    }


def _failures(result: auth.AuthResult, id_type: str, factors: list[str], session: Session) -> list[IdaError]:
    reason = result.reason or ""
    if result.locked_out:
        if "otp" in factors:
            return [OTP_VALIDATION_LOCKED]
        return [IdaError("IDA-MLC-022", f"{id_type} is blocked")]
    if reason.startswith("the ID is"):
        return [id_error(id_type, "deactivated")]
    if reason.startswith("locked by the resident"):
        locked = auth.locked_factors(session=session, national_id=result.national_id)
        return [
            IdaError("IDA-MLC-019", f"{factor} Auth Type is Locked for the UIN")
            for factor in factors
            if factor in locked
        ]
    errors = [OTP_INVALID] if "otp" in result.mismatched else []
    errors += [mismatch(MOSIP_NAMES.get(name, name)) for name in result.mismatched if name != "otp"]
    return errors or [IdaError("IDA-AUT-501", "Authentication failed")]


def _mosip_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
