"""Staff sign-in over HTTP: open a session (cookie or bearer token), sign out, who am I.

The decisions are core/staff.py's; a cookie is Secure, HttpOnly and SameSite=Strict (Secure is
left out only in development over plain http, where a browser would not send it back).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field

from . import staff
from .deps import STAFF_COOKIE, SessionDep, SettingsDep, StaffTokenDep
from .i18n import _
from .registry import installed_roles
from .schemas import Line, UtcDatetime
from .security import AuthenticationFailed
from .settings import Settings

router = APIRouter(prefix="/staff")


class SignInRequest(BaseModel):
    user_name: Annotated[Line, Field(min_length=1, max_length=64)]
    password: Annotated[Line, Field(min_length=1, max_length=1024)]
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The current code of the authenticator app")]
    kind: Literal["cookie", "bearer"] = Field("cookie", description="cookie for a browser, bearer for a script")


class SessionOut(BaseModel):
    kind: Literal["cookie", "bearer"]
    expires_at: UtcDatetime
    token: str | None = Field(None, description="The bearer token (shown once); none for a cookie session")


class GrantOut(BaseModel):
    role: str
    title: str
    region: str | None = Field(description="None: everywhere")


class StaffOut(BaseModel):
    user_name: str
    display_name: str
    roles: list[GrantOut]


def signed_in(request: Request, token: StaffTokenDep = None) -> staff.SignedIn:
    """The signed-in staff member (their session's last use recorded), or 401."""
    if not token:
        raise AuthenticationFailed(_("a staff session is required: sign in with POST /staff/sessions"))
    with request.app.state.session_factory.begin() as session:
        found = staff.resolve(session=session, token=token, settings=request.app.state.settings)
        session.expunge_all()  # read after the commit
        return found


SignedInDep = Annotated[staff.SignedIn, Depends(signed_in)]


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Sign in with the password and the current TOTP code",
    responses={status.HTTP_401_UNAUTHORIZED: {"description": "Sign-in failed"}},
)
def open_session(
    body: SignInRequest, session: SessionDep, settings: SettingsDep, request: Request, response: Response
) -> SessionOut:
    try:
        account = staff.sign_in(
            session=session, user_name=body.user_name, password=body.password, code=body.code, settings=settings
        )
    except staff.SignInFailed:
        session.commit()  # the failed attempt counts towards the lock-out
        raise
    opened = staff.open_session(session=session, account=account, kind=body.kind, settings=settings)
    session.commit()
    if opened.kind == "bearer":
        return SessionOut(kind=opened.kind, expires_at=opened.expires_at, token=opened.token)
    set_session_cookie(response, opened, settings, request)
    return SessionOut(kind=opened.kind, expires_at=opened.expires_at)


def set_session_cookie(response: Response, opened: staff.OpenedSession, settings: Settings, request: Request) -> None:
    """The cookie of a cookie session, whichever way the person signed in (here or at the OpenID provider)."""
    response.set_cookie(
        STAFF_COOKIE,
        opened.token,
        max_age=settings.staff_cookie_absolute_minutes * 60,
        secure=_secure_cookie(settings, request),
        httponly=True,
        samesite="strict",
    )


def delete_session_cookie(response: Response) -> None:
    response.delete_cookie(STAFF_COOKIE, httponly=True, samesite="strict")


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out (this session)")
def sign_out(_staff: SignedInDep, token: StaffTokenDep, session: SessionDep, response: Response) -> None:
    staff.sign_out(session=session, token=token or "")
    session.commit()
    delete_session_cookie(response)


@router.delete("/sessions", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out everywhere (every session)")
def sign_out_everywhere(me: SignedInDep, session: SessionDep, response: Response) -> None:
    staff.sign_out_everywhere(session=session, account_id=me.account.id)
    session.commit()
    delete_session_cookie(response)


@router.get("/me", summary="Who is signed in, and their roles")
def me(me: SignedInDep) -> StaffOut:
    return staff_out(me)


def staff_out(signed: staff.SignedIn) -> StaffOut:
    roles = installed_roles()
    return StaffOut(
        user_name=signed.account.user_name,
        display_name=signed.account.display_name,
        roles=[
            GrantOut(role=grant.role, title=roles[grant.role].title, region=grant.region)
            for grant in signed.grants
            if grant.role in roles  # a grant of a module since removed gives nothing
        ],
    )


def _secure_cookie(settings: Settings, request: Request) -> bool:
    return not (settings.environment == "development" and request.url.scheme == "http")
