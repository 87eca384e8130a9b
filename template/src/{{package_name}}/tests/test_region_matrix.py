"""A role granted for some regions reaches records of those regions only: the check, and every route that makes it.

The routes are the calls each installed module declares in its own `tests/regions.py`
(tests/region_calls.py). Each is made on a fresh record by its role granted in another region (403),
in the record's region and everywhere, and by a partner holding the role's permissions (neither 401
nor 403). Not country-independent: a record's region is read at the profile's first address level.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ..core import staff
from ..core.authorisation import check_region, region_of, staff_caller
from ..core.callers import Caller
from ..core.country import LoadedCountry
from ..core.models import RoleGrant, StaffAccount
from ..core.registry import Role, installed_parts, installed_roles
from ..core.security import NotPermitted
from .region_calls import RegionSetup, installed_region_calls

pytestmark = pytest.mark.selection  # the calls come from the installed modules' tables

Headers = Callable[..., dict[str, str]]
DENIED = {401, 403}
RECORDS_REGION, OTHER_REGION = "Region-1", "Region-2"
REGIONAL = Role("core.test_regional", "A regional test role", ("meta:read",), regional=True)


def test_every_regional_role_has_the_calls_of_its_records_declared() -> None:
    regional = {name for name, role in installed_roles().items() if role.regional}
    declared = {call.role for call in installed_region_calls()}
    assert declared <= regional, f"not regional: {sorted(declared - regional)}"
    assert regional <= declared, f"no call in any module's tests/regions.py: {sorted(regional - declared)}"


def test_a_role_limited_to_a_region_acts_on_that_regions_records_only(
    client: TestClient, session: Session, country: LoadedCountry, api_headers: Headers, staff_headers: Headers
) -> None:
    calls = list(installed_region_calls())
    if not calls:
        pytest.skip("no installed module declares a call on a record with a region")
    roles = installed_roles()
    partner = api_headers(*(scope for part in installed_parts() for scope in part.scopes))
    serials = itertools.count(1)
    wrong = []
    for call in calls:
        callers: list[tuple[str, dict[str, str], bool | int]] = [
            ("in another region", staff_headers(call.role, OTHER_REGION), 403),
            ("in the record's region", staff_headers(call.role, RECORDS_REGION), True),
            ("everywhere", staff_headers(call.role), True),
            ("as a partner holding its permissions", api_headers(*roles[call.role].permissions), True),
        ]
        for who, headers, outcome in callers:
            request = call.prepare(RegionSetup(client, session, country, partner, RECORDS_REGION, next(serials)))
            response = client.request(request.method, request.path, json=request.json, headers=headers)
            status = response.status_code
            if (outcome is True and status in DENIED) or (outcome is not True and status != outcome):
                expected = "neither 401 nor 403" if outcome is True else outcome
                wrong.append(f"{call.name} by {call.role} {who}: {status} {response.text[:200]}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def _signed_in(*regions: str | None) -> staff.SignedIn:
    account = StaffAccount(id=7, user_name="amina", display_name="Amina")
    grants = tuple(RoleGrant(account_id=7, role=REGIONAL.name, region=region) for region in regions)
    return staff.SignedIn(account=account, grants=grants)


def test_a_region_limited_caller_acts_only_on_records_of_its_regions() -> None:
    limited = staff_caller(_signed_in("R1", "R2"), {REGIONAL.name: REGIONAL}, "meta:read")
    check_region(limited, "R2")
    with pytest.raises(NotPermitted, match="limited to R1, R2 and does not reach the region 'R3'"):
        check_region(limited, "R3")
    with pytest.raises(NotPermitted, match="does not reach a record without a region"):
        check_region(limited, None)


def test_partners_and_staff_granted_everywhere_act_in_every_region() -> None:
    national = staff_caller(_signed_in(None), {REGIONAL.name: REGIONAL}, "meta:read")
    partner = Caller(kind="partner", id=1, name="Bank A")
    for caller in (national, partner):
        check_region(caller, "R3")
        check_region(caller, None)


def test_a_records_region_is_its_address_at_the_first_level(country: LoadedCountry) -> None:
    first, *_rest = country.profile.address_levels
    assert region_of({first: "R1", "elsewhere": "R2"}, country) == "R1"
    assert region_of({"elsewhere": "R2"}, country) is None
    assert region_of(None, country) is None
