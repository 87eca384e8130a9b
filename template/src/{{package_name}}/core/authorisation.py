"""The one authorisation decision: who is calling, and whether they may do what a route needs.

A route names the scope it needs. A partner (X-API-Key) may call it when its key holds that scope;
a staff member (a bearer token or the session cookie) when one of their grants is of a role whose
permissions include it. Either way the route gets a `Caller`. An API key, when sent, decides alone.
A route on a record with a region then asks `check_region`: a role granted for some regions only
reaches records of those regions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from . import staff
from .callers import Caller
from .country import LoadedCountry
from .i18n import _
from .models import Partner
from .registry import Role
from .security import NotPermitted, authenticate, authorise
from .settings import Settings


def decide(
    *,
    session: Session,
    settings: Settings,
    roles: Mapping[str, Role],
    scope: str,
    key: str | None,
    token: str | None,
    now: datetime | None = None,
) -> Caller:
    """The caller, allowed `scope`; 401 when nobody is signed in, 403 when the caller lacks it."""
    if key or not token:  # nobody at all: the partner's 401 says how to send a key
        partner = authenticate(session=session, key=key)
        authorise(partner, scope)
        return Caller(kind="partner", id=partner.id, name=partner.name)
    return staff_caller(staff.resolve(session=session, token=token, settings=settings, now=now), roles, scope)


def partner_only(*, session: Session, settings: Settings, scope: str, key: str | None, token: str | None) -> Partner:
    """A partner holding `scope`; a signed-in staff member is refused (403): the route acts for a partner system."""
    if not key and token:
        staff.resolve(session=session, token=token, settings=settings)
        raise NotPermitted(_("this endpoint serves partner systems only, with an API key"))
    partner = authenticate(session=session, key=key)
    authorise(partner, scope)
    return partner


def staff_caller(signed_in: staff.SignedIn, roles: Mapping[str, Role], scope: str) -> Caller:
    """The staff member acting in a role that grants `scope`, limited to that role's regions.

    A role granted everywhere is chosen before a regional one, then the first by name.
    """
    granting = sorted({g.role for g in signed_in.grants if g.role in roles and scope in roles[g.role].permissions})
    account = signed_in.account
    if not granting:
        raise NotPermitted(
            _("staff member '{user}' holds no role with the permission '{scope}' this endpoint requires").format(
                user=account.user_name, scope=scope
            )
        )
    regions_of = {role: {g.region for g in signed_in.grants if g.role == role} for role in granting}
    role = min(granting, key=lambda name: (None not in regions_of[name], name))
    limited = None if None in regions_of[role] else frozenset(r for r in regions_of[role] if r is not None)
    return Caller(kind="staff", id=account.id, name=account.user_name, role=role, regions=limited)


def region_of(address: Mapping[str, Any] | None, country: LoadedCountry) -> str | None:
    """A record's region: its address's value at the profile's first level (`address_levels[0]`); None without one."""
    value = (address or {}).get(country.profile.address_levels[0])
    return value if isinstance(value, str) and value else None


def check_region(caller: Caller, region: str | None) -> None:
    """Refuse (403) a region-limited staff caller acting on a record outside their regions.

    Partners and staff granted their role everywhere pass; a record without a region is reached
    by them only.
    """
    if caller.may_act_in(region):
        return
    regions = ", ".join(sorted(caller.regions or ()))
    if region is None:
        raise NotPermitted(
            _("the role '{role}' is limited to {regions} and does not reach a record without a region").format(
                role=caller.role, regions=regions
            )
        )
    raise NotPermitted(
        _("the role '{role}' is limited to {regions} and does not reach the region '{region}'").format(
            role=caller.role, regions=regions, region=region
        )
    )
