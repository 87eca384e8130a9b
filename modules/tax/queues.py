"""Lists the officers work through: the objections queue (awaiting a decision, or in any one state,
oldest first), the register searched by TIN or name, and the assessed taxable incomes of a year."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ...core.country import LoadedCountry
from ...core.pages import Page, PageRequest, fetch
from . import tins
from .models import Assessment, AssessmentState, Objection, ObjectionState, ReturnKind, Taxpayer
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
        query = query.where(Objection.tin.in_(_taxpayers_within(within)))
    if tin is not None:
        query = query.where(Objection.tin == tins.validate(tin, length=tax_country(country).tin_length))
    return fetch(session, query, Objection.id, page)


def taxpayers(
    *, session: Session, page: PageRequest, search: str | None = None, within: frozenset[str] | None = None
) -> Page[Taxpayer]:
    """The register in the order registered: all, the one holding a TIN (digits), or names containing `search`.

    A name is matched anywhere, ignoring case: a scan of the register, fine for a person at the console.
    """
    query = select(Taxpayer)
    if search:
        if search.isdigit():
            query = query.where(Taxpayer.tin == search)
        else:
            query = query.where(Taxpayer.name.icontains(search, autoescape=True))
    if within is not None:
        query = query.where(Taxpayer.region.in_(sorted(within)))
    return fetch(session, query, Taxpayer.id, page)


def assessed_taxable(*, session: Session, year: int, within: frozenset[str] | None = None) -> Iterator[int]:
    """The taxable income of every current income-tax assessment of fiscal `year`, read in batches."""
    query = select(Assessment.taxable).where(
        Assessment.kind == ReturnKind.INCOME, Assessment.year == year, Assessment.state == AssessmentState.CURRENT
    )
    if within is not None:
        query = query.where(Assessment.tin.in_(_taxpayers_within(within)))
    yield from session.scalars(query.execution_options(yield_per=5000))


def _taxpayers_within(within: frozenset[str]) -> Select[tuple[str]]:
    return select(Taxpayer.tin).where(Taxpayer.region.in_(sorted(within)))
