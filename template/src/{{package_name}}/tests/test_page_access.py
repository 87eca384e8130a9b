"""Who reaches each page and form: anonymous, a resident, each staff role, and a forged form.

Generated from the pages every installed part mounts (the shell's access dependencies say what
each needs), so a new page is in the matrix the day it is added. Record ids in paths are ones
that do not exist: a page a caller may open answers with the page or its 404, never a redirect
to sign-in or a 403.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ..conftest import form_token
from ..core.country import LoadedCountry
from ..core.registry import installed_modules, installed_roles
from ..core.web.access import STAFF_SIGN_IN, resident_sign_in_path, signed_in_resident, signed_in_staff
from ..core.web.csrf import SAFE_METHODS
from ..core.web.shell import is_page_path
from .test_authorisation import mounted_routes

pytestmark = [pytest.mark.selection, pytest.mark.country_independent]

MODULES = __package__.rsplit(".", 1)[0] + ".modules"
UNKNOWN_ID = "987654321"
SIGN_IN_FORMS = {STAFF_SIGN_IN, "/language"}


@dataclass(frozen=True)
class PageRoute:
    method: str
    path: str  # with an unknown record id in every parameter
    needs: str  # "scope:<scope>", "staff", "resident" or "public"

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.needs})"


def page_routes(client: TestClient) -> list[PageRoute]:
    found = []
    for full_path, route in mounted_routes(client.app.routes):
        if is_page_path(full_path):
            path = full_path
            for name in route.param_convertors:
                path = path.replace("{" + name + "}", UNKNOWN_ID).replace("{" + name + ":path}", UNKNOWN_ID)
            for method in sorted(route.methods - {"HEAD"}):
                found.append(PageRoute(method, path, _needs(route.dependant)))
    return found


def _needs(dependant) -> str:
    calls = list(_calls(dependant))
    scopes = [getattr(call, "page_scope", None) for call in calls]
    if any(scopes):
        return "scope:" + next(s for s in scopes if s)
    if signed_in_staff in calls:
        return "staff"
    if signed_in_resident in calls:
        return "resident"
    return "public"


def _calls(dependant) -> Iterator[Callable]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def a_registered_resident(session: Session, country: LoadedCountry) -> str | None:
    """A resident from the first installed module that can register one (its `tests/residents.py`)."""
    for module in installed_modules():
        try:
            residents = importlib.import_module(f"{MODULES}.{module.name}.tests.residents")
        except ModuleNotFoundError:
            continue
        return residents.register(session, country)
    return None


def test_every_page_declares_who_may_open_it(client: TestClient) -> None:
    routes = page_routes(client)
    assert any(r.path == "/console" for r in routes) and any(r.needs.startswith("scope:") for r in routes)
    unguarded = [str(r) for r in routes if r.needs == "public" and r.path.startswith(("/console/", "/me/"))]
    allowed_public = {"/console/sign-in", resident_sign_in_path() or ""}
    assert all(any(p.split(" ")[1].startswith(a) for a in allowed_public if a) for p in unguarded), unguarded


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    resident_sign_in = resident_sign_in_path()
    for route in page_routes(client):
        if route.method != "GET" or route.needs == "public":
            continue
        answer = client.get(route.path, follow_redirects=False)
        if route.needs == "resident" and resident_sign_in is None:
            assert answer.status_code == 404, route
            continue
        target = resident_sign_in if route.needs == "resident" else STAFF_SIGN_IN
        assert answer.status_code == 303, f"{route}: {answer.status_code}"
        assert answer.headers["location"].startswith(f"{target}?next="), route


@pytest.mark.parametrize("role", sorted(installed_roles()))
def test_each_role_opens_exactly_the_pages_its_permissions_allow(client: TestClient, staff_cookies, role: str) -> None:
    client.cookies.update(staff_cookies(role))
    permissions = installed_roles()[role].permissions
    for route in page_routes(client):
        if route.method != "GET" or route.needs == "public":
            continue
        status = client.get(route.path, follow_redirects=False).status_code
        if route.needs == "resident":
            assert status in (303, 404), f"{route}: a staff member is no resident ({status})"
        elif route.needs == "staff" or route.needs.removeprefix("scope:") in permissions:
            assert status not in (303, 401, 403), f"{route} refused {role}: {status}"
        else:
            assert status == 403, f"{route} opened to {role}: {status}"


def test_a_resident_opens_resident_pages_only(
    client: TestClient, session: Session, country: LoadedCountry, resident_cookies
) -> None:
    national_id = a_registered_resident(session, country)
    if national_id is None:
        pytest.skip("no installed module registers residents")
    client.cookies.update(resident_cookies(national_id))
    for route in page_routes(client):
        if route.method != "GET" or route.needs == "public":
            continue
        status = client.get(route.path, follow_redirects=False).status_code
        if route.needs == "resident":
            assert status not in (303, 401, 403), f"{route} refused the resident: {status}"
        else:
            assert status == 303, f"{route}: a resident is no staff member ({status})"


def test_every_form_is_refused_without_its_token(client: TestClient, staff_cookies) -> None:
    for role in installed_roles():
        client.cookies.update(staff_cookies(role))  # the most any caller could hold: every role at once
    posts = [r for r in page_routes(client) if r.method not in SAFE_METHODS]
    assert posts
    for route in posts:
        answer = client.post(route.path, data={"csrf_token": "forged"}, follow_redirects=False)
        assert answer.status_code == 403 and "reload" in answer.text, f"{route}: {answer.status_code}"
        assert client.post(route.path, follow_redirects=False).status_code == 403, route


def test_forms_with_their_token_still_need_the_caller(client: TestClient) -> None:
    token = form_token(client)
    for route in page_routes(client):
        if route.method in SAFE_METHODS or route.needs == "public":
            continue
        answer = client.post(route.path, data={"csrf_token": token}, follow_redirects=False)
        assert answer.status_code in (303, 404), f"{route}: anonymous got {answer.status_code}"
