"""What the servicing tests share: a service context, a loan made through the API, and the book's invariants."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.ports import Disbursements
from ....core.registry import Ports
from ....core.runtime import Runtime
from .. import book
from ..ageing import days_past_due
from ..config import LoansSettings
from ..models import Accrual, Event, Instalment, Line, Loan, LoanState
from ..service import Context, current_schedule, owed
from ..terms import COMPONENTS
from .helpers import applicant, create_product

ACTOR = "staff:servicing-test"


def context_for(session: Session, country: LoadedCountry, ports: Ports, runtime: Runtime) -> Context:
    return Context(session=session, country=country, ports=ports, settings=runtime.settings_of(LoansSettings))


def make_loan(
    client: TestClient, api_headers: Any, ports: Ports, officer: dict[str, str], product: str, principal: int
) -> str:
    who = applicant(client, api_headers, ports)
    response = client.post(
        "/loans/applications", json={"product": product, "principal": principal, **who}, headers=officer
    )
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "disbursed", response.json()
    return response.json()["loan"]


def product(client: TestClient, manager: dict[str, str], **terms: Any) -> str:
    return create_product(client, manager, **terms)


def charge_penalties(context: Context, loan: Loan, day: date) -> int:
    """The late penalty as the daily accrual charges it (accrual.py): once per instalment past its days of grace,
    on active loans only."""
    if loan.state != LoanState.ACTIVE:
        return 0
    penalty = loan.terms.get("penalty") or {}
    rate = Fraction(Decimal(str(penalty.get("rate", "0"))))
    charged = 0
    for instalment in current_schedule(context.session, loan):
        if instalment.settled_on is not None or instalment.penalised_on is not None:
            continue
        if (day - instalment.due_on).days <= int(penalty.get("after_days", 0)):
            continue
        dues = owed(instalment)
        unpaid = dues["principal"] + dues["interest"] + dues["fees"]
        amount = context.rounding.apply_ratio(unpaid * rate.numerator, rate.denominator) + int(penalty.get("flat", 0))
        instalment.penalised_on = day
        if amount <= 0:
            continue
        instalment.penalties += amount
        book.book(
            session=context.session,
            loan=loan,
            kind="penalty",
            reference=f"{loan.reference}:penalty:{instalment.version}:{instalment.number}",
            lines={book.receivable("penalties"): amount, book.income("penalties"): -amount},
            booked_on=day,
            channel="book",
            actor=ACTOR,
        )
        charged += amount
    return charged


def set_accrued(session: Session, loan: Loan, amount: int) -> None:
    """What the daily accrual has earned on `loan` so far, as one accrual row (on its disbursement day)."""
    session.execute(delete(Accrual).where(Accrual.loan_id == loan.id))
    session.add(Accrual(loan_id=loan.id, day=loan.disbursed_on, interest=amount, days_past_due=0))
    session.flush()


def accrue_more(session: Session, loan: Loan, amount: int, day: date) -> None:
    """`amount` more interest earned on `loan` on `day` (added to that day's accrual row)."""
    row = session.get(Accrual, (loan.id, day))
    if row is None:
        unpaid_from = loan.position.unpaid_from if loan.position else None
        session.add(Accrual(loan_id=loan.id, day=day, interest=amount, days_past_due=days_past_due(unpaid_from, day)))
    else:
        row.interest += amount
    session.flush()


def book_problems(session: Session, loan: Loan | None = None) -> list[str]:
    """What breaks the loan book's invariants (and, with payments installed, the payments ledger's)."""
    problems = []
    unbalanced = session.execute(
        select(Event.reference, func.sum(Line.amount))
        .join(Line, Line.event_id == Event.id)
        .group_by(Event.id, Event.reference)
        .having(func.sum(Line.amount) != 0)
    ).all()
    problems += [f"event {reference}: lines sum to {total}" for reference, total in unbalanced]
    if loan is not None:
        balances = book.balances(session, loan.id)
        problems += [f"receivable:{c} is {v}" for c, v in balances.items() if v < 0]
        if loan.state == LoanState.ACTIVE:
            schedule = current_schedule(session, loan)
            per_schedule = {c: sum(owed(i)[c] for i in schedule) for c in COMPONENTS}
            if per_schedule != balances:
                problems.append(f"the schedule owes {per_schedule}, the book {balances}")
        elif any(balances.values()):
            problems.append(f"a {loan.state} loan still owes {balances}")
    return problems


def payments_ledger_problems(session: Session, ports: Ports) -> list[str]:
    """With payments installed: its transfers' entries sum to zero (read by table, as modules import no other)."""
    if not ports.provides(Disbursements) or not inspect(session.get_bind()).has_table("payments_entry"):
        return []
    rows = session.execute(
        text("SELECT transfer_id, SUM(amount) FROM payments_entry GROUP BY transfer_id HAVING SUM(amount) <> 0")
    ).all()
    return [f"payments transfer {transfer}: entries sum to {total}" for transfer, total in rows]


def instalments(session: Session, loan: Loan, version: int) -> list[Instalment]:
    return list(
        session.scalars(
            select(Instalment)
            .where(Instalment.loan_id == loan.id, Instalment.version == version)
            .order_by(Instalment.number)
        )
    )
