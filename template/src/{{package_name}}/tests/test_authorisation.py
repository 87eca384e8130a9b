"""The one authorisation layer, checked on every route of the installed parts from their own declarations.

Each guarded route's dependency says which scope it needs (and whether only partners may call it);
each part's roles say which scopes they hold. The expected answer for every caller follows from
those two alone: nothing here lists routes by hand. A call that is allowed may still answer 404 or
422 (the body is left out, the ids are made up): the point is that it is not 401 or 403 (or a 401
for a second party the route authenticates in a header of its own: a resident's session).

Regions: a role granted in the wrong region is the matrix's further row, in test_region_matrix.py
(it reads the profile's address levels, so it runs per country).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from ..core import staff
from ..core.authorisation import staff_caller
from ..core.models import RoleGrant, StaffAccount
from ..core.registry import Role, installed_parts, installed_roles

# Built from the installed modules' routes and roles; who may call what is the same in every country.
pytestmark = [pytest.mark.selection, pytest.mark.country_independent]

DENIED = {401, 403}


def guarded_routes(app) -> Iterator[tuple[str, str, str, bool, tuple[str, ...]]]:
    """(method, path, scope, partners only, header parameters) of every route with a scope check."""
    for path, route in mounted_routes(app.routes):
        checks = list(_scope_checks(route.dependant))
        assert len(checks) <= 1, f"{path}: more than one scope check"
        headers = tuple(param.alias for param in route.dependant.header_params)
        for check in checks:
            for method in sorted(route.methods):
                yield method, path, check.scope, check.partners_only, headers


def mounted_routes(routes, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router, kept whole by FastAPI 0.16x
            yield from mounted_routes(route.original_router.routes, prefix + route.include_context.prefix)


def _scope_checks(dependant) -> Iterator[Callable]:
    for dependency in dependant.dependencies:
        if hasattr(dependency.call, "scope"):
            yield dependency.call
        yield from _scope_checks(dependency)


def all_scopes() -> list[str]:
    return [scope for part in installed_parts() for scope in part.scopes]


def test_every_permission_is_an_installed_scope_and_every_role_is_named_after_its_part() -> None:
    scopes = set(all_scopes())
    seen: dict[str, str] = {}
    for part in installed_parts():
        for role in part.roles:
            assert role.name.startswith(f"{part.name}."), role.name
            assert set(role.permissions) <= scopes, (role.name, sorted(set(role.permissions) - scopes))
            assert role.name not in seen, f"{role.name} declared by {seen.get(role.name)} and {part.name}"
            seen[role.name] = part.name


def test_the_core_declares_an_administrator_and_an_auditor() -> None:
    roles = installed_roles()
    assert {"core.administrator", "core.auditor"} <= roles.keys()
    assert "meta:read" in roles["core.auditor"].permissions


def test_every_route_answers_every_caller_as_the_declarations_say(
    client: TestClient,
    api_headers: Callable[..., dict[str, str]],
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    roles = installed_roles()
    signed_in = {name: staff_headers(name) for name in roles}
    scopes = all_scopes()
    holding = {scope: api_headers(scope) for scope in scopes}
    lacking = {scope: api_headers(*(s for s in scopes if s != scope)) for scope in scopes}
    routes = list(guarded_routes(client.app))
    assert routes, "no guarded route found: the scope checks are not recognised"
    wrong = []
    for method, path, scope, partners_only, own_headers in routes:
        url = re.sub(r"\{[^}]+\}", "1", path)
        expected: list[tuple[str, dict[str, str], bool | int]] = [
            ("anonymous", {}, 401),
            ("partner holding the scope", holding[scope], True),
            ("partner lacking the scope", lacking[scope], 403),
        ]
        for name, headers in signed_in.items():
            allowed = not partners_only and scope in roles[name].permissions
            expected.append((name, headers, True if allowed else 403))
        for who, headers, outcome in expected:
            response = client.request(method, url, headers=headers)
            status = response.status_code
            if outcome is True and status in DENIED and not _second_party(response, own_headers):
                wrong.append(f"{method} {path} ({scope}) as {who}: {status}, expected neither 401 nor 403")
            elif outcome is not True and status != outcome:
                wrong.append(f"{method} {path} ({scope}) as {who}: {status}, expected {outcome}")
    assert not wrong, "\n".join(wrong)


def _second_party(response, own_headers: tuple[str, ...]) -> bool:
    """A 401 for the other party a route authenticates in a header of its own (a resident's session), past the layer."""
    detail = response.json().get("detail", "")
    return response.status_code == 401 and any(header in detail for header in own_headers)


REGIONAL = Role("core.test_regional", "A regional test role", ("meta:read",), regional=True)


def _signed_in(*regions: str | None) -> staff.SignedIn:
    account = StaffAccount(id=7, user_name="amina", display_name="Amina")
    grants = tuple(RoleGrant(account_id=7, role=REGIONAL.name, region=region) for region in regions)
    return staff.SignedIn(account=account, grants=grants)


def test_a_regional_grant_limits_the_caller_to_its_regions() -> None:
    caller = staff_caller(_signed_in("R1", "R2"), {REGIONAL.name: REGIONAL}, "meta:read")
    assert (caller.role, caller.regions, caller.actor) == (
        REGIONAL.name,
        {"R1", "R2"},
        "staff:amina (core.test_regional)",
    )
    assert caller.may_act_in("R1")
    assert not caller.may_act_in("R3")
    assert not caller.may_act_in(None)


def test_a_grant_everywhere_reaches_every_region() -> None:
    caller = staff_caller(_signed_in("R1", None), {REGIONAL.name: REGIONAL}, "meta:read")
    assert caller.regions is None
    assert caller.may_act_in("R3")
    assert caller.may_act_in(None)


def test_a_role_granted_everywhere_acts_before_a_regional_role_with_the_same_permission() -> None:
    regional_first = Role("core.a_regional", "Sorts before the national role", ("meta:read",), regional=True)
    account = StaffAccount(id=7, user_name="amina", display_name="Amina")
    grants = (
        RoleGrant(account_id=7, role=regional_first.name, region="R1"),
        RoleGrant(account_id=7, role=REGIONAL.name, region=None),
    )
    roles = {regional_first.name: regional_first, REGIONAL.name: REGIONAL}
    caller = staff_caller(staff.SignedIn(account=account, grants=grants), roles, "meta:read")
    assert (caller.role, caller.regions) == (REGIONAL.name, None)
    assert caller.may_act_in("R3")
