"""Who may see a page: a signed-in staff member holding a role's permission, or a signed-in resident.

Both are decided on the server for every request, by the same rules as the API
(core/authorisation.py for staff); a page is never hidden as a way of protecting it. Someone not
signed in is sent to the sign-in page and brought back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from .. import authorisation, staff
from ..callers import Caller
from ..deps import STAFF_COOKIE
from ..errors import NotFound
from ..i18n import N_
from ..ports import ResidentSessions
from ..registry import installed_parts, installed_roles
from ..security import AuthenticationFailed

RESIDENT_COOKIE = "resident_session"
STAFF_SIGN_IN = "/console/sign-in"
NO_RESIDENT_PAGES = N_("this deployment offers no resident pages: no installed module lets residents sign in")


class SignInRequired(Exception):
    """Not signed in: the shell answers with a redirect to `location` (core/web/shell.py)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass(frozen=True)
class SignedInResident:
    national_id: str
    token: str


def local_path(value: str | None) -> str | None:
    """`value` when it is a path on this site (never another host), else None."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _back_to(request: Request, sign_in: str) -> SignInRequired:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = here if request.method == "GET" else request.url.path
    return SignInRequired(f"{sign_in}?next={quote(target, safe='/')}")


def signed_in_staff(request: Request) -> staff.SignedIn:
    """The staff member whose session cookie came with the request, or a redirect to the sign-in page."""
    token = request.cookies.get(STAFF_COOKIE)
    if not token:
        raise _back_to(request, STAFF_SIGN_IN)
    with request.app.state.session_factory.begin() as session:
        try:
            found = staff.resolve(session=session, token=token, settings=request.app.state.settings)
        except AuthenticationFailed:
            raise _back_to(request, STAFF_SIGN_IN) from None
        session.expunge_all()
        return found


StaffDep = Annotated[staff.SignedIn, Depends(signed_in_staff)]


def console_page(scope: str) -> Callable[..., Caller]:
    """A dependency giving the staff member acting with `scope` (403 without it; sign-in when nobody).

    It carries `page_scope`, so the access test reads what each page needs.
    """

    def dependency(signed: StaffDep) -> Caller:
        return authorisation.staff_caller(signed, installed_roles(), scope)

    dependency.page_scope = scope  # type: ignore[attr-defined]
    return dependency


def resident_sign_in_path() -> str | None:
    """Where a resident signs in, when an installed part offers it."""
    for part in installed_parts():
        if part.pages is not None and part.pages.resident_sign_in:
            return part.pages.resident_sign_in
    return None


def signed_in_resident(request: Request) -> SignedInResident:
    """The resident whose portal session came with the request, or a redirect to their sign-in page."""
    sessions: ResidentSessions | None = request.app.state.ports.get(ResidentSessions)
    sign_in = resident_sign_in_path()
    if sessions is None or sign_in is None:
        raise NotFound(NO_RESIDENT_PAGES)
    token = request.cookies.get(RESIDENT_COOKIE)
    if not token:
        raise _back_to(request, sign_in)
    with request.app.state.session_factory.begin() as session:
        national_id = sessions.holder(session=session, token=token)
    if national_id is None:
        raise _back_to(request, sign_in)
    return SignedInResident(national_id=national_id, token=token)


signed_in_resident.resident_page = True  # type: ignore[attr-defined]
ResidentDep = Annotated[SignedInResident, Depends(signed_in_resident)]
