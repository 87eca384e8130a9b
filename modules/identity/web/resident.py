"""The resident's pages: sign-in with a national ID or VID and a code sent to the registered phone,
then my record, who authenticated me, my factor locks and my contact details.

Between the two sign-in steps the browser holds a short-lived cookie with what it asked for (ID
type, number, the transaction ID of the code, the masked phone, where to go next), sealed with
AES-GCM under SECRET_KEY as the outbox seals codes: never readable nor forgeable in the browser,
and the number never appears in a URL (which access logs record).
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from ....core.errors import Problem, problem_detail
from ....core.i18n import N_, _
from ....core.ports import ResidentSessions
from ....core.web.access import RESIDENT_COOKIE, ResidentDep, local_path
from ....core.web.shell import Viewer, redirect, render
from ....core.web.throttle import admit
from .. import auth, portal, resident, service, vids
from ..config import IdentitySettingsDep
from ..models import Person, PersonStatus
from ..notifier import OutboxNotifier, read_sealed, seal

SIGN_IN = "/me/identity/sign-in"
SIGN_IN_CODE = "/me/identity/sign-in/code"
RECORD = "/me/identity"
CONTACT = "/me/identity/contact"
PENDING_COOKIE = "identity_sign_in"
PENDING_SEAL = "resident web sign-in"  # bound into the sealed cookie, so no other sealed text passes for it
THROTTLED_FORM = "resident-sign-in"
ID_TYPES = ("nid", "vid")

router = APIRouter()
Next = Annotated[str, Form(max_length=2000)]


# ---------------------------------------------------------------- sign-in


@router.get("/sign-in")
def sign_in_page(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    return _sign_in_form(request, {"next": local_path(next) or "/me", "id_type": "nid", "individual_id": ""})


@router.post("/sign-in")
def send_code(
    request: Request,
    identity_settings: IdentitySettingsDep,
    id_type: Annotated[str, Form(max_length=8)] = "nid",
    individual_id: Annotated[str, Form(max_length=40)] = "",
    next: Next = "/me",
) -> Response:
    values = {"next": local_path(next) or "/me", "id_type": id_type, "individual_id": individual_id}
    number = "".join(individual_id.split())
    app = request.app
    with app.state.session_factory() as session:
        _admit(request, session)
        if id_type not in ID_TYPES:
            return _sign_in_form(request, values, "id_type: " + _("choose a national ID number or a VID"), 422)
        if not number.isdigit() or not 8 <= len(number) <= 20:
            return _sign_in_form(request, values, "individual_id: " + _("give the 8 to 20 digits of the number"), 422)
        transaction_id = f"web-{secrets.token_hex(16)}"
        try:
            sent_to = auth.request_otp(
                session=session,
                individual_id=number,
                id_type=id_type,
                transaction_id=transaction_id,
                partner=portal.web_portal_partner(session),
                country=app.state.country,
                settings=identity_settings,
                secret=_secret(request),
                notifier=OutboxNotifier(
                    secret=_secret(request), expiry_seconds=identity_settings.notify_expiry_seconds
                ),
            )
        except Problem as refused:
            session.rollback()
            return _sign_in_form(request, values, problem_detail(refused), refused.status, refused.headers)
        session.commit()
    pending = {**values, "individual_id": number, "transaction_id": transaction_id, "sent_to": sent_to}
    response = redirect(SIGN_IN_CODE)
    response.set_cookie(
        PENDING_COOKIE,
        seal(json.dumps(pending), PENDING_SEAL, secret=_secret(request)),
        max_age=identity_settings.otp_ttl_seconds,
        path=SIGN_IN,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/sign-in/code")
def code_page(request: Request) -> Response:
    pending = _pending(request)
    if pending is None:
        return redirect(SIGN_IN)
    return _code_form(request, pending)


@router.post("/sign-in/code")
def check_code(
    request: Request, identity_settings: IdentitySettingsDep, code: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    pending = _pending(request)
    app = request.app
    with app.state.session_factory() as session:
        _admit(request, session)
        if pending is None:
            values = {"next": "/me", "id_type": "nid", "individual_id": ""}
            return _sign_in_form(
                request, values, _("the code has expired or was never asked for: ask for a new one"), 400
            )
        code = code.strip()
        length = identity_settings.otp_length
        if not code.isdigit() or len(code) != length:
            message = "code: " + _("the code has {length} digits").format(length=length)
            return _code_form(request, pending, message, 422)
        try:
            national_id = resident.verify_sign_in(
                session=session,
                individual_id=pending["individual_id"],
                id_type=pending["id_type"],
                transaction_id=pending["transaction_id"],
                otp=code,
                partner=portal.web_portal_partner(session),
                country=app.state.country,
                settings=identity_settings,
                secret=_secret(request),
            )
        except Problem as refused:  # the VID was revoked or the portal switched off meanwhile
            session.rollback()
            return _code_form(request, pending, problem_detail(refused), refused.status)
        if national_id is None:
            session.commit()  # the failure is audited and counts towards the lock-out
            message = "code: " + _("the code is wrong, expired or already used (or the ID is locked out)")
            return _code_form(request, pending, message, 401)
        sessions: ResidentSessions = app.state.ports.get(ResidentSessions)
        token = sessions.open(session=session, national_id=national_id)
        session.commit()
    response = redirect(local_path(pending.get("next")) or "/me")
    response.set_cookie(
        RESIDENT_COOKIE,
        token,
        max_age=identity_settings.resident_session_seconds,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(PENDING_COOKIE, path=SIGN_IN, secure=_secure(request), httponly=True, samesite="strict")
    return response


def _sign_in_form(
    request: Request,
    values: dict[str, Any],
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {**values, "error": error, "id_name": request.app.state.country.section(service.SECTION).id_name}
    return render(request, "identity/sign_in.html", context, status=status, headers=headers)


def _code_form(request: Request, pending: dict[str, Any], error: str | None = None, status: int = 200) -> Response:
    return render(request, "identity/sign_in_code.html", {"sent_to": pending["sent_to"], "error": error}, status=status)


def _pending(request: Request) -> dict[str, Any] | None:
    sealed = request.cookies.get(PENDING_COOKIE)
    if not sealed:
        return None
    try:
        return json.loads(read_sealed(sealed, PENDING_SEAL, secret=_secret(request)))
    except ValueError:
        return None


def _admit(request: Request, session: Session) -> None:
    admit(
        session=session,
        form=THROTTLED_FORM,
        client=request.client.host if request.client else "unknown",
        limit=request.app.state.settings.web_sign_in_attempts_per_minute,
    )


# ---------------------------------------------------------------- my record

ACTIONS = {
    "identity.auth": N_("authentication"),
    "identity.ekyc": N_("identity check (eKYC)"),
    "identity.resident.session": N_("sign-in"),
    "identity.vid.used": N_("Virtual ID (VID)"),
}
FACTOR_NAMES = {"otp": N_("a one-time code to my phone"), "demo": N_("my name, date of birth and other details")}
STATUS_NAMES = {
    PersonStatus.ACTIVE: N_("active"),
    PersonStatus.DECEASED: N_("deceased"),
    PersonStatus.DEACTIVATED: N_("deactivated"),
}


async def _form(request: Request) -> FormData:
    """The posted form, for a form whose fields follow the country (one per address level)."""
    return await request.form()


@router.get("")
def my_record(request: Request, signed: ResidentDep) -> Response:
    return _record_page(request, signed.national_id)


@router.post("/locks")
def lock_factor(
    request: Request,
    signed: ResidentDep,
    factor: Annotated[str, Form(max_length=20)] = "",
    locked: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    if locked not in ("true", "false"):
        return _record_page(request, signed.national_id, "locked: " + _("choose to lock or to unlock"), 422)
    try:
        with request.app.state.session_factory.begin() as session:
            auth.set_lock(
                session=session,
                national_id=signed.national_id,
                factor=factor,
                locked=locked == "true",
                actor=_actor(session),
            )
    except Problem as refused:
        return _record_page(request, signed.national_id, problem_detail(refused), refused.status)
    return redirect(RECORD)


@router.get("/contact")
def contact_page(request: Request, signed: ResidentDep) -> Response:
    with request.app.state.session_factory() as session:
        person = _person(request, session, signed.national_id)
        values = {"phone": "", "address": dict(person.address)}
    return _contact_form(request, signed.national_id, values)


@router.post("/contact")
def update_contact(request: Request, signed: ResidentDep, form: Annotated[FormData, Depends(_form)]) -> Response:
    levels = request.app.state.country.profile.address_levels
    phone = str(form.get("phone", ""))[:40].strip()
    address = {level: str(form.get(f"address.{level}", ""))[:200].strip() for level in levels}
    values = {"phone": phone, "address": address}
    given = {level: value for level, value in address.items() if value}
    try:
        with request.app.state.session_factory.begin() as session:
            service.update_contact(
                session=session,
                national_id=signed.national_id,
                phone=phone or None,
                address=given or None,
                country=request.app.state.country,
                actor=_actor(session),
            )
    except Problem as refused:
        return _contact_form(request, signed.national_id, values, problem_detail(refused), refused.status)
    return redirect(RECORD)


def _record_page(request: Request, national_id: str, error: str | None = None, status: int = 200) -> Response:
    with request.app.state.session_factory() as session:
        person = _person(request, session, national_id)
        context = {
            "person": person,
            "phone": auth.mask_phone(person.phone) if person.phone else None,
            "address": _address_lines(request, person.address),
            "vids": vids.list_vids(session=session, national_id=national_id),
            "history": [
                {
                    "when": event.occurred_at,
                    "who": event.actor,
                    "what": _(ACTIONS[event.action]) if event.action in ACTIONS else event.action,
                    "how": ", ".join(event.detail.get("factors", [])),
                    "succeeded": event.detail.get("result") == "success",
                }
                for event in resident.authentication_history(session=session, national_id=national_id)
            ],
            "locked": auth.locked_factors(session=session, national_id=national_id),
            "factors": [(factor, _(FACTOR_NAMES.get(factor, factor))) for factor in auth.FACTORS],
            "status": _(STATUS_NAMES.get(person.status, person.status)),
            "error": error,
        }
        return render(request, "identity/record.html", context, status=status, viewer=Viewer(resident=national_id))


def _contact_form(
    request: Request, national_id: str, values: dict[str, Any], error: str | None = None, status: int = 200
) -> Response:
    with request.app.state.session_factory() as session:
        person = _person(request, session, national_id)
        context = {
            **values,
            "levels": request.app.state.country.profile.address_levels,
            "current_phone": auth.mask_phone(person.phone) if person.phone else None,
            "changes": [
                (change, _shown_value(request, change.field, change.old_value))
                for change in service.contact_history(session=session, national_id=national_id)
            ],
            "error": error,
        }
        return render(request, "identity/contact.html", context, status=status, viewer=Viewer(resident=national_id))


def _person(request: Request, session: Session, national_id: str) -> Person:
    return service.get_person(session=session, national_id=national_id, country=request.app.state.country)


def _address_lines(request: Request, address: dict[str, str]) -> list[tuple[str, str]]:
    levels = request.app.state.country.profile.address_levels
    return [(level, address[level]) for level in levels if address.get(level)]


def _shown_value(request: Request, field: str, value: Any) -> str:
    """A past phone masked as the current one is; a past address as its parts."""
    if value is None:
        return "—"
    if field == "phone":
        return auth.mask_phone(value)
    return ", ".join(part for _level, part in _address_lines(request, value)) if isinstance(value, dict) else str(value)


def _actor(session: Session) -> str:
    return f"resident via {portal.web_portal_partner(session).name}"


def _secret(request: Request) -> str:
    return request.app.state.settings.secret_key.get_secret_value()


def _secure(request: Request) -> bool:
    """As the shell decides for its cookies: Secure except in development over plain http."""
    return not (request.app.state.settings.environment == "development" and request.url.scheme == "http")
