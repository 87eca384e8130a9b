"""The frame every page is drawn in, and where each part's pages are mounted.

Pages are Jinja2 templates rendered on the server in the request's language, with the messages of
the stack's own gettext catalogs; they work with JavaScript off (none is served). Every page and
form goes through `render` and the routers mounted here, so each gets the same security headers,
the CSRF check and compression.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import i18n
from ..errors import Problem, problem_detail, status_title, validation_errors
from ..registry import CORE, Link, installed_parts, installed_roles
from ..stack import stack_info
from ..staff import SignedIn
from . import csrf
from .access import SignInRequired, resident_sign_in_path
from .languages import offered_languages

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_AREAS = ("/me", "/console")
SHELL_PATHS = ("/", "/language", "/static/site.css")
# No script, no third-party asset, no inline style: the pages need nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages show personal data: no shared or back-button cache keeps them
}


def is_page_path(path: str) -> bool:
    return path in SHELL_PATHS or any(path == area or path.startswith(f"{area}/") for area in PAGE_AREAS)


@lru_cache
def environment() -> Environment:
    """Templates: the core's by name (`base.html`), each part's under its name (`identity/held.html`)."""
    parts = {p.name: FileSystemLoader(p.pages.templates) for p in installed_parts() if p.pages and p.name != CORE}
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), PrefixLoader(parts)]),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=False)  # type: ignore[attr-defined]
    env.globals.update(money=i18n.format_money, day=_day, number=_number)
    return env


@dataclass(frozen=True)
class Viewer:
    """Who the page is drawn for: the menus follow it."""

    staff: SignedIn | None = None
    resident: str | None = None  # the signed-in resident's national ID


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    viewer: Viewer | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page in the request's language, with the CSRF token its forms carry and the security headers."""
    viewer = viewer or Viewer()
    locale = i18n.current_locale()
    secret = request.app.state.settings.secret_key.get_secret_value()
    cookie = csrf.cookie_value(request)
    values = {
        "request": request,
        "lang": i18n.content_language(locale),
        "dir": text_direction(locale),
        "languages": offered_languages(request.app.state.country),
        "current_language": i18n.language_of(locale),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "service": stack_info().deployment_name,
        "country": country_name(request.app.state.country.profile, locale),
        "csrf_input": Markup('<input type="hidden" name="{}" value="{}">').format(
            csrf.CSRF_FIELD, csrf.token_for(cookie, secret)
        ),
        "viewer": viewer,
        "menu": menu(viewer),
        "resident_sign_in": resident_sign_in_path(),
        "when": _in_zone(request.app.state.country.profile.timezone),
        **(context or {}),
    }
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
    if request.cookies.get(csrf.CSRF_COOKIE) != cookie:
        response.set_cookie(csrf.CSRF_COOKIE, cookie, httponly=True, samesite="strict", secure=_secure(request))
    return response


def menu(viewer: Viewer) -> list[tuple[str, str]]:
    """(path, title) of the pages the viewer may open: the resident's, or the console pages their roles allow."""
    links: list[Link] = []
    for part in installed_parts():
        if part.pages is None:
            continue
        if viewer.staff is not None:
            links += [link for link in part.pages.console_links if may_see(viewer.staff, link)]
        elif viewer.resident is not None:
            links += list(part.pages.resident_links)
    return [(link.path, i18n.gettext(link.title)) for link in links]


def may_see(signed: SignedIn, link: Link) -> bool:
    if link.scope is None:
        return True
    roles = installed_roles()
    return any(g.role in roles and link.scope in roles[g.role].permissions for g in signed.grants)


def country_name(profile: Any, locale: str) -> str:
    """The country's name in the visitor's language (CLDR), else as the profile writes it."""
    try:
        return Locale.parse(locale).territories.get(profile.country) or profile.name
    except (UnknownLocaleError, ValueError):
        return profile.name


def text_direction(locale: str) -> str:
    try:
        return "rtl" if Locale.parse(locale).character_order == "right-to-left" else "ltr"
    except (UnknownLocaleError, ValueError):
        return "ltr"


def redirect(location: str) -> RedirectResponse:
    """After a form: see the result at `location` (303, so a reload does not post again)."""
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


# ---------------------------------------------------------------- mounting


def mount_pages(app: FastAPI) -> None:
    """Every installed part's pages, the shell's own, compression and HTML error pages."""
    from .console import router as console_router  # the core's pages import the shell
    from .portal import router as portal_router

    guarded = [Depends(csrf.protect)]
    app.include_router(portal_router, dependencies=guarded, include_in_schema=False)
    app.include_router(console_router, dependencies=guarded, include_in_schema=False)
    for part in installed_parts():
        if part.pages is None:
            continue
        for area, router in (("me", part.pages.resident), ("console", part.pages.console)):
            if router is not None:
                app.include_router(router, prefix=part.page_prefix(area), dependencies=guarded, include_in_schema=False)
    _install_error_pages(app)
    app.add_middleware(PageCompression)


class PageCompression:
    """gzip for pages and their stylesheet (the API answers as before)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.compressed = GZipMiddleware(app, minimum_size=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_page_path(scope["path"]):
            await self.compressed(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _install_error_pages(app: FastAPI) -> None:
    """On a page, an error is a page in the visitor's language; on the API it stays a problem document."""
    handlers = dict(app.exception_handlers)

    async def sign_in_required(_request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)
        return redirect(error.location)

    def page_or_problem(kind: type[Exception]) -> Any:
        api_handler = handlers[kind]

        async def handle(request: Request, error: Exception) -> Response:
            if not is_page_path(request.url.path):
                return await api_handler(request, error)
            return error_page(request, error)

        return handle

    app.add_exception_handler(SignInRequired, sign_in_required)
    for kind in (Problem, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(kind, page_or_problem(kind))


def error_page(request: Request, error: Exception) -> HTMLResponse:
    if isinstance(error, Problem):
        status, details, headers = error.status, [problem_detail(error)], error.headers
    elif isinstance(error, RequestValidationError):
        status, headers = 422, {}
        details = [f"{e['location'].split('.')[-1]}: {e['message']}" for e in validation_errors(error)]
    else:
        assert isinstance(error, StarletteHTTPException)
        status, details, headers = error.status_code, [i18n.gettext(str(error.detail))], dict(error.headers or {})
    return render(
        request,
        "error.html",
        {"title": status_title(status), "details": details, "status": status},
        status=status,
        headers=headers,
    )


# ---------------------------------------------------------------- formats


def _day(value: date | None) -> str:
    return "" if value is None else i18n.format_date(value)


def _in_zone(zone: str) -> Callable[[datetime | None], str]:
    """Moments are shown in the deployment's time zone, formatted for the visitor's locale."""

    def when(moment: datetime | None) -> str:
        return "" if moment is None else i18n.format_datetime(moment, tz=zone)

    return when


def _number(value: int | float) -> str:
    return format_decimal(value, locale=i18n.current_locale())


def _secure(request: Request) -> bool:
    return not (request.app.state.settings.environment == "development" and request.url.scheme == "http")
