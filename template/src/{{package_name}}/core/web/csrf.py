"""CSRF protection for every form: a signed double-submit token.

The browser holds a random value in an HttpOnly, SameSite=Strict cookie; each form carries
HMAC(SECRET_KEY, value) in a hidden field. A forged cross-site post has neither the cookie nor a
way to compute the field (a cookie planted by a sibling site still lacks the server's key). The
check runs as a dependency on every page router the shell mounts, so no form can be left out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from ..errors import Problem
from ..i18n import _

CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class FormRefused(Problem):
    status = 403

    def __init__(self) -> None:
        super().__init__(
            _("this form was not sent from this site's page, or the page is too old: go back, reload it and try again"),
            kind="csrf",
        )


def new_cookie_value() -> str:
    return secrets.token_urlsafe(32)


def token_for(cookie_value: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{cookie_value}".encode(), hashlib.sha256).hexdigest()


def cookie_value(request: Request) -> str:
    """The browser's CSRF cookie, or a new value the page being rendered will set."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    if not hasattr(request.state, "new_csrf_cookie"):
        request.state.new_csrf_cookie = new_cookie_value()
    return request.state.new_csrf_cookie


async def protect(request: Request) -> None:
    """Refuse (403) an unsafe request whose form field does not match the signed cookie."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    secret = request.app.state.settings.secret_key.get_secret_value()
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(sent, token_for(cookie, secret)):
        raise FormRefused()
