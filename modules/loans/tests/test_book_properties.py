"""The loan book stays balanced through any sequence of disburse → repay → late → penalty → restructure → write-off.

Hypothesis draws the operations; each runs through the services on a loan made through the API.
After every step every event's lines sum to zero, no receivable is negative, the current schedule
owes exactly what the book says, a closed or written-off loan owes nothing, and with payments
installed the payments ledger's transfers balance too. A refused step (a closed loan) changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from ....core.errors import Problem
from ....core.registry import Ports
from .. import book, service, servicing
from ..service import get_loan
from .servicing_helpers import (
    ACTOR,
    accrue_more,
    book_problems,
    charge_penalties,
    context_for,
    make_loan,
    payments_ledger_problems,
    product,
)

pytestmark = pytest.mark.selection  # the money's path (payments ledger or own rail) depends on the modules

operations = st.one_of(
    st.tuples(st.just("repay"), st.integers(min_value=1, max_value=100)),  # percent of what is owed
    st.tuples(st.just("late"), st.integers(min_value=1, max_value=75)),  # days the clock moves on
    st.tuples(st.just("penalty"), st.just(0)),
    st.tuples(st.just("accrue"), st.integers(min_value=0, max_value=5_000)),
    st.tuples(st.just("payoff"), st.just(0)),
    st.tuples(st.just("restructure"), st.integers(min_value=1, max_value=24)),
    st.tuples(st.just("write_off"), st.just(0)),
)


@pytest.fixture
def loan_product(client: TestClient, staff_headers) -> tuple[str, dict[str, str]]:
    manager = staff_headers("loans.portfolio_manager")
    return product(client, manager, instalments=6), staff_headers("loans.loan_officer")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    principal=st.integers(min_value=10_000, max_value=500_000),
    steps=st.lists(operations, min_size=1, max_size=8),
)
def test_the_loan_book_stays_balanced_whatever_happens_to_a_loan(
    client: TestClient,
    api_headers,
    ports: Ports,
    session: Session,
    country,
    runtime,
    loan_product,
    principal: int,
    steps: list[tuple[str, int]],
) -> None:
    code, officer = loan_product
    reference = make_loan(client, api_headers, ports, officer, code, principal)
    context = context_for(session, country, ports, runtime)
    day = date.today()
    for number, (operation, value) in enumerate(steps):
        loan = get_loan(session=session, reference=reference)
        try:
            if operation == "repay":
                owes = sum(book.balances(session, loan.id).values())
                amount = max(1, owes * value // 100)
                service.repay(
                    context=context,
                    reference=reference,
                    amount=amount,
                    payment_reference=f"R{number}",
                    source="pull",
                    actor=ACTOR,
                    today=day,
                )
            elif operation == "late":
                day += timedelta(days=value)  # the loan ages by itself (ageing.py): nothing to write
            elif operation == "penalty":
                charge_penalties(context, loan, day)
            elif operation == "accrue":
                accrue_more(session, loan, value, day)
            elif operation == "payoff":
                servicing.repay_early(context=context, reference=reference, actor=ACTOR, today=day)
            elif operation == "restructure":
                servicing.restructure(context=context, reference=reference, instalments=value, actor=ACTOR, today=day)
            else:
                servicing.write_off(context=context, reference=reference, reason="test", actor=ACTOR, today=day)
            session.commit()
            event(f"{operation} applied")
        except Problem as problem:
            event(f"{operation} refused: {problem.kind}")
            session.rollback()  # refused (a closed loan, nothing left to pay): nothing was written
        session.expire_all()
        loan = get_loan(session=session, reference=reference)
        problems = book_problems(session, loan) + payments_ledger_problems(session, ports)
        assert problems == [], f"after {steps[: number + 1]}: {problems}"
