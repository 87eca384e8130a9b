"""What the resident's and the console's loan pages share: a loan as a page shows it, and refusals by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from ....core.errors import Problem
from .. import book, service, servicing
from ..models import Instalment, Loan


@dataclass(frozen=True)
class LoanView:
    """A loan with its current schedule, what is owed of each component, the next instalment due and its ageing."""

    loan: Loan
    schedule: list[Instalment]
    owed: dict[str, int]
    next_due: Instalment | None
    ageing: servicing.Ageing

    @property
    def total_owed(self) -> int:
        return sum(self.owed.values())

    def left_on(self, instalment: Instalment) -> int:
        """What `instalment` still owes, all components together."""
        return sum(service.owed(instalment).values())

    def overdue(self, instalment: Instalment, today: date) -> bool:
        return instalment.settled_on is None and instalment.due_on < today


def loan_view(session: Session, loan: Loan) -> LoanView:
    schedule = service.current_schedule(session, loan)
    unpaid = [instalment for instalment in schedule if instalment.settled_on is None]
    return LoanView(
        loan=loan,
        schedule=schedule,
        owed=dict(book.balances(session, loan.id)),
        next_due=unpaid[0] if unpaid else None,
        ageing=servicing.ageing_of(session, loan),
    )


def refused_field(problem: Problem, fields: tuple[str, ...], default: str = "form") -> str:
    """The form field a service's refusal is about: its `field`, or the name its detail starts with."""
    if problem.field in fields:
        return problem.field
    lead = problem.detail.split(":", 1)[0]
    return lead if lead in fields else default
