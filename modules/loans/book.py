"""The loan book: what borrowers owe, as balanced lines per event.

Accounts: `receivable:<component>` (what the borrower owes of fees, penalties, interest, principal),
`cash` (money that moved through the payments ledger or the rail), `income:<component>` (fees,
penalties and interest earned or to be earned) and `expense:write_off`. Every event's lines sum to
zero, and the receivable lines of a loan sum to what it still owes: `balances` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Event, Line, Loan
from .terms import COMPONENTS, Component

CASH = "cash"
WRITE_OFF = "expense:write_off"


def receivable(component: Component) -> str:
    return f"receivable:{component}"


def income(component: Component) -> str:
    return f"income:{component}"


class UnbalancedEvent(ValueError):
    """Lines that do not sum to zero: a programming error, never booked."""


def book(
    *,
    session: Session,
    loan: Loan,
    kind: str,
    reference: str,
    lines: Mapping[str, int],
    booked_on: date,
    channel: str,
    actor: str,
    amount: int | None = None,
    transfer_state: str | None = None,
) -> Event:
    """Book one event with its lines (zero lines are left out); refuses lines that do not balance."""
    kept = {account: value for account, value in lines.items() if value}
    if sum(kept.values()) != 0:
        raise UnbalancedEvent(f"{kind} {reference}: lines sum to {sum(kept.values())}")
    event = Event(
        loan_id=loan.id,
        kind=kind,
        reference=reference,
        amount=amount if amount is not None else sum(v for v in kept.values() if v > 0),
        booked_on=booked_on,
        channel=channel,
        transfer_state=transfer_state,
        actor=actor,
    )
    session.add(event)
    session.flush()
    session.add_all(Line(event_id=event.id, loan_id=loan.id, account=a, amount=v) for a, v in kept.items())
    session.flush()
    return event


def existing_event(session: Session, reference: str) -> Event | None:
    return session.scalar(select(Event).where(Event.reference == reference))


def balances(session: Session, loan_id: int) -> dict[Component, int]:
    """What the borrower owes now, per component."""
    rows = dict(
        session.execute(
            select(Line.account, func.sum(Line.amount)).where(Line.loan_id == loan_id).group_by(Line.account)
        ).all()
    )
    return {component: int(rows.get(receivable(component)) or 0) for component in COMPONENTS}
