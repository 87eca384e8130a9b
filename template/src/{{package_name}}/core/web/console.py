"""The core's console pages: staff sign-in and sign-out, the console's front page, the audit log
viewer with the chain's verification, and partner key management for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from .. import audit, security, staff
from ..approvals import Signatory, required_for
from ..audit_api import AUDIT_SCOPE
from ..callers import Caller
from ..deps import STAFF_COOKIE
from ..errors import Problem
from ..i18n import _
from ..pages import PageRequest
from ..registry import installed_parts, installed_roles
from ..staff_api import delete_session_cookie, set_session_cookie
from ..system import PARTNERS_SCOPE
from .access import STAFF_SIGN_IN, StaffDep, console_page, local_path
from .shell import Viewer, redirect, render
from .throttle import admit

router = APIRouter()

Auditor = Annotated[Caller, Depends(console_page(AUDIT_SCOPE))]
Administrator = Annotated[Caller, Depends(console_page(PARTNERS_SCOPE))]
Text = Annotated[str, Form(max_length=1024)]


@router.get(STAFF_SIGN_IN)
def sign_in_page(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    return render(request, "console/sign_in.html", {"next": local_path(next) or "/console", "error": None})


@router.post(STAFF_SIGN_IN)
def sign_in(
    request: Request,
    user_name: Annotated[str, Form(max_length=64)] = "",
    password: Text = "",
    code: Annotated[str, Form(max_length=12)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    settings = request.app.state.settings
    target = local_path(next) or "/console"
    with request.app.state.session_factory() as session:
        admit(
            session=session,
            form="staff-sign-in",
            client=_client(request),
            limit=settings.web_sign_in_attempts_per_minute,
        )
        try:
            account = staff.sign_in(
                session=session, user_name=user_name.strip(), password=password, code=code.strip(), settings=settings
            )
        except staff.SignInFailed as failed:
            session.commit()  # the failed attempt counts towards the lock-out
            context = {"next": target, "error": failed.detail, "user_name": user_name}
            return render(request, "console/sign_in.html", context, status=401)
        opened = staff.open_session(session=session, account=account, kind="cookie", settings=settings)
        session.commit()
    response = redirect(target)
    set_session_cookie(response, opened, settings, request)
    return response


@router.post("/console/sign-out")
def sign_out(request: Request, _signed: StaffDep) -> Response:
    with request.app.state.session_factory.begin() as session:
        staff.sign_out(session=session, token=request.cookies.get(STAFF_COOKIE, ""))
    response = redirect("/")
    delete_session_cookie(response)
    return response


@router.get("/console")
def console_home(request: Request, signed: StaffDep) -> Response:
    roles = installed_roles()
    held = [(roles[g.role].title, g.region) for g in signed.grants if g.role in roles]
    return render(request, "console/home.html", {"signed": signed, "roles": held}, viewer=Viewer(staff=signed))


@router.get("/console/audit")
def audit_log(
    request: Request,
    signed: StaffDep,
    _auditor: Auditor,
    person: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    filters = {"person": person or None, "action": action or None, "subject": subject or None}
    with request.app.state.session_factory() as session:
        page = audit.list_events(session=session, page=PageRequest.parse(limit=50, after=after or None), **filters)
    return render(
        request,
        "console/audit.html",
        {"events": page.items, "next": page.next, "filters": filters},
        viewer=Viewer(staff=signed),
    )


@router.get("/console/audit/verification")
def audit_verification(request: Request, signed: StaffDep, _auditor: Auditor) -> Response:
    settings = request.app.state.settings
    secret = settings.secret_key.get_secret_value()
    with request.app.state.session_factory() as session:
        checkpoints = audit.read_checkpoints(settings.audit_checkpoint_dir, secret=secret)
        report = audit.verify_chain(session=session, checkpoints=checkpoints)
    return render(request, "console/verification.html", {"report": report}, viewer=Viewer(staff=signed))


@router.get("/console/partners")
def partners(request: Request, signed: StaffDep, _admin: Administrator) -> Response:
    return _partners_page(request, signed)


@router.post("/console/partners")
def issue_key(
    request: Request,
    signed: StaffDep,
    admin: Administrator,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = sorted(set(scopes or ()))
    error = _key_request_error(name.strip(), chosen)
    if error:
        return _partners_page(request, signed, error=error, status=422)
    with request.app.state.session_factory.begin() as session:
        issued = security.issue_partner_key(
            session=session, name=name.strip(), scopes=chosen, requester=Signatory.of(admin)
        )
        shown = {"name": issued.partner.name, "key": issued.key, "awaiting": issued.partner.awaiting_approval}
    return _partners_page(request, signed, issued=shown, status=201)


@router.post("/console/partners/{partner_id}/approval")
def approve_key(request: Request, partner_id: int, signed: StaffDep, admin: Administrator) -> Response:
    required = required_for(request.app.state.settings.approvals_required, security.PARTNER_KEY_ACTION)
    try:
        with request.app.state.session_factory.begin() as session:
            security.approve_partner_key(
                session=session, partner_id=partner_id, approver=Signatory.of(admin), required=required
            )
    except Problem as refused:
        return _partners_page(request, signed, error=refused.detail, status=refused.status)
    return redirect("/console/partners")


@router.post("/console/partners/{partner_id}/revocation")
def revoke_key(request: Request, partner_id: int, signed: StaffDep, admin: Administrator) -> Response:
    with request.app.state.session_factory.begin() as session:
        security.revoke_partner(session=session, partner_id=partner_id, actor=admin.actor)
    return redirect("/console/partners")


def _partners_page(
    request: Request, signed: staff.SignedIn, *, error: str | None = None, issued: dict | None = None, status: int = 200
) -> Response:
    required = required_for(request.app.state.settings.approvals_required, security.PARTNER_KEY_ACTION)
    with request.app.state.session_factory() as session:
        rows = [
            (partner, security.partner_key_tally(session=session, partner=partner, required=required))
            for partner in security.list_partners(session=session)
        ]
    context = {"rows": rows, "scopes": _all_scopes(), "error": error, "issued": issued}
    return render(request, "console/partners.html", context, status=status, viewer=Viewer(staff=signed))


def _all_scopes() -> list[str]:
    return sorted({scope for part in installed_parts() for scope in part.scopes})


def _key_request_error(name: str, scopes: list[str]) -> str | None:
    if not name:
        return _("name: give the partner's name")
    if not scopes:
        return _("scopes: choose at least one scope")
    unknown = set(scopes) - set(_all_scopes())
    if unknown:
        return _("scopes: not a scope of this deployment: {scopes}").format(scopes=", ".join(sorted(unknown)))
    return None


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
