"""The objections officers' queue: objections awaiting a decision (or in any one state), oldest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.country import LoadedCountry
from ...core.pages import Page, PageRequest, fetch
from . import tins
from .models import Objection, ObjectionState, Taxpayer
from .objections import OPEN
from .service import tax_country

AWAITING_DECISION = "awaiting_decision"  # lodged or under review: every objection not yet decided


def objections(
    *,
    session: Session,
    page: PageRequest,
    country: LoadedCountry,
    status: str = AWAITING_DECISION,
    tin: str | None = None,
    within: frozenset[str] | None = None,
) -> Page[Objection]:
    """`within`: the regions of a region-limited caller, whose queue holds their taxpayers' objections only."""
    states = OPEN if status == AWAITING_DECISION else (ObjectionState(status),)
    query = select(Objection).where(Objection.state.in_(states))
    if within is not None:
        regional = select(Taxpayer.tin).where(Taxpayer.region.in_(sorted(within)))
        query = query.where(Objection.tin.in_(regional))
    if tin is not None:
        query = query.where(Objection.tin == tins.validate(tin, length=tax_country(country).tin_length))
    return fetch(session, query, Objection.id, page)
