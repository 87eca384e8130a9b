"""The stimulus flow as a service: a flat payment to residents, means-tested on assessed income if asked.

`prepare_stimulus` registers the programme and builds its cycle in the caller's transaction; the cycle then waits
for its approvers under four-eyes like any other (`cycles.approve_cycle`, never its maker). Once it is approved,
`pay_stimulus` funds and pays it and reports its reconciliation. The `payments stimulus` command calls both (the
second through `payments disburse`, which can spread it over worker processes), and only pays an approved cycle;
a web page would do the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from ...core.approvals import Signatory
from ...core.country import LoadedCountry
from ...core.eligibility import INCOME, Rule
from ...core.errors import Unprocessable, validation_message
from ...core.money import Money
from ...core.registry import Ports
from . import cycles, disbursing, programme_service, reconciliations
from .config import PaymentsSettings
from .domain import ProgrammeTerms
from .ledger import check_currency
from .models import Cycle
from .programmes import Entitlement
from .rails import PaymentRail
from .schemas import PROGRAMME_CODE_PATTERN

ADULT_AGE = 18

# The bounds an API programme is held to (schemas.ProgrammeIn), checked with Pydantic's own wording.
_PROGRAMME_CODE = TypeAdapter(Annotated[str, Field(pattern=PROGRAMME_CODE_PATTERN)])
_FISCAL_YEAR = TypeAdapter(Annotated[int, Field(ge=1900, le=2200)])
_RULE = TypeAdapter(Rule)
_ENTITLEMENT = TypeAdapter(Entitlement)


@dataclass(frozen=True, slots=True)
class StimulusPlan:
    """Pay `amount` to every resident (or every adult), optionally only those assessed below `max_income`."""

    year: int  # fiscal year of the assessed income
    amount: Money
    max_income: int | None = None  # minor units; None pays regardless of income
    adults_only: bool = False
    include_unassessed: bool = False  # with max_income: residents without an assessment are paid too
    code: str | None = None  # programme code; STIMULUS-<year> by default

    @property
    def programme_code(self) -> str:
        return self.code or f"STIMULUS-{self.year}"


def prepare_stimulus(
    *,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    plan: StimulusPlan,
    funding_account: str,
    chunk_size: int,
    maker: Signatory,
    as_of: date | None = None,
) -> Cycle:
    """The plan's programme and its first cycle, built by `maker`, whom four-eyes refuses as its approver.

    Running it again returns the same cycle, approved by then or still awaiting its approvals.
    """
    check_currency(plan.amount.currency, country.profile.currency)
    programme = programme_service.create_programme(
        session=session, ports=ports, country=country, terms=_terms(plan), actor=maker.actor
    ).record
    return programme_service.create_cycle(
        session=session,
        ports=ports,
        country=country,
        programme=programme,
        name="1",
        as_of=as_of,
        funding_account=funding_account,
        chunk_size=chunk_size,
        maker=maker,
    ).record


def pay_stimulus(
    *,
    session_factory: sessionmaker[Session],
    cycle_id: int,
    currency: str,
    rail: PaymentRail,
    settings: PaymentsSettings,
    actor: str,
) -> reconciliations.Reconciliation:
    """Fund the approved cycle, pay it chunk by chunk in this process, and reconcile it."""
    with session_factory.begin() as session:
        cycles.start_disbursement(
            session=session, cycle=cycles.get_cycle(session=session, cycle_id=cycle_id), currency=currency, actor=actor
        )
    disbursing.run_worker(
        session_factory=session_factory,
        cycle_id=cycle_id,
        currency=currency,
        rail=rail,
        settings=settings,
        worker=actor,
    )
    with session_factory.begin() as session:
        return reconciliations.reconcile(session=session, cycle_id=cycle_id)


def _terms(plan: StimulusPlan) -> ProgrammeTerms:
    """The plan's programme; a figure out of bounds is a domain problem naming the programme's field."""
    code = _checked("code", _PROGRAMME_CODE, plan.programme_code)
    eligibility = []
    if plan.adults_only:
        eligibility.append(Rule(attribute="age", op=">=", value=ADULT_AGE))
    if plan.max_income is not None:
        missing = "eligible" if plan.include_unassessed else "ineligible"
        eligibility.append(
            _checked(
                "eligibility", _RULE, {"attribute": INCOME, "op": "<", "value": plan.max_income, "if_missing": missing}
            )
        )
    return ProgrammeTerms(
        code=code,
        name=f"Stimulus payment {plan.year}",
        currency=plan.amount.currency,
        source="registry",
        eligibility=tuple(eligibility),
        entitlement=_checked("flat", _ENTITLEMENT, {"flat": plan.amount.amount}),
        income_year=_checked("income_year", _FISCAL_YEAR, plan.year) if plan.max_income is not None else None,
    )


def _checked(field: str, adapter: TypeAdapter[Any], value: object) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise Unprocessable(validation_message(error.errors()[0]), field=field) from None
