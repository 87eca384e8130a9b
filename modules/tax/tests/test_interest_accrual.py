"""The worker's daily interest job (tax.accrue_interest): books what accrued on overdue tax, once a day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.runtime import Runtime
from .. import accounts
from ..jobs import accrue_interest
from ..models import AccountEntry, EntryKind
from .helpers import a_taxpayer, a_year, minor, with_tax
from .test_accounts import assessed, interest_law


def interest_entries(session: Session, tin: str) -> list[tuple[int, date]]:
    query = select(AccountEntry.amount, AccountEntry.booked_on).where(
        AccountEntry.tin == tin, AccountEntry.kind == EntryKind.INTEREST
    )
    return [tuple(row) for row in session.execute(query.order_by(AccountEntry.id))]


def test_accrual_books_the_interest_once_a_day_and_leaves_the_balance_as_it_was(
    session: Session, runtime: Runtime
) -> None:
    law = interest_law(runtime.country)
    year = a_year(law)
    late = a_taxpayer(session, law).tin
    tax = assessed(session, law, late, year, date(year + 1, 1, 5)).tax_due
    on_time = a_taxpayer(session, law, external_id="EXT-2").tin
    assessed(session, law, on_time, year, date(year + 1, 1, 5))
    accounts.pay(
        session=session, tin=on_time, amount=10**12, reference="P-1", national_id=None, country=law,
        ports=runtime.ports, actor="t", today=date(year + 1, 2, 1),
    )  # fmt: skip
    session.commit()
    deployment = replace(runtime, country=law)
    two_months_late = date(year + 1, 8, 15)  # 30 June + 1 month and a half: two months begun, 1 % each
    before = accounts.statement(session=session, tin=late, country=law, as_of=two_months_late)

    assert accrue_interest(deployment, today=two_months_late) == 1  # the one who paid in time owes nothing
    assert accrue_interest(deployment, today=two_months_late) == 0  # the same day again: nothing more

    session.expire_all()
    assert interest_entries(session, late) == [(tax * 2 // 100, two_months_late)]
    assert interest_entries(session, on_time) == []
    after = accounts.statement(session=session, tin=late, country=law, as_of=two_months_late)
    assert after.balance == before.balance  # booked now, no longer added on top
    assert after.totals[EntryKind.INTEREST.value] == after.interest

    a_month_later = date(year + 1, 9, 15)
    assert accrue_interest(deployment, today=a_month_later) == 1
    session.expire_all()
    assert interest_entries(session, late) == [(tax * 2 // 100, two_months_late), (tax // 100, a_month_later)]
    assert (
        accounts.statement(session=session, tin=late, country=law, as_of=a_month_later).balance == tax + tax * 3 // 100
    )


def test_without_an_interest_rule_nothing_is_booked(session: Session, runtime: Runtime) -> None:
    law = with_tax(
        runtime.country,
        fiscal_year_start="01-01",
        filing_deadline="06-30",
        penalties={"interest": [], "rounding": {"mode": "down", "quantum": minor(runtime.country)}},
    )
    year = a_year(law)
    tin = a_taxpayer(session, law).tin
    assessed(session, law, tin, year, date(year + 1, 1, 5))
    session.commit()
    assert accrue_interest(replace(runtime, country=law), today=date(year + 2, 1, 1)) == 0
    assert interest_entries(session, tin) == []
