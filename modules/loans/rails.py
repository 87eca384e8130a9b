"""The module's own rail, for a deployment without the payments module.

A disbursement or a collected instalment is booked with `transfer_state="pending"` on the `rail`
channel, in the same transaction as the loan's other changes. `export_pending` then writes each
pending order as one JSON file in the outbox folder for the bank's system (written aside, then
renamed, named by the event's reference so a re-run rewrites the same file) and marks it `sent`:
an order is never written for work that was rolled back. The payee is the account the applicant
gave, kept as `account:<number>`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.errors import Unprocessable
from ...core.i18n import _
from .models import Event, Loan

ACCOUNT_PATTERN = r"^[A-Za-z0-9]{6,34}$"  # an IBAN, a bank account or a mobile-money number, without spaces
RAIL = "rail"
DIRECTIONS = {"disbursed": "pay", "repayment": "collect", "early_repayment": "collect"}


def payee_of_account(account: str) -> str:
    number = account.replace(" ", "")
    if not re.fullmatch(ACCOUNT_PATTERN, number):
        raise Unprocessable("account: " + _("give 6 to 34 letters and digits (an IBAN, account or wallet number)"))
    return f"account:{number}"


def export_pending(*, session: Session, outbox: Path) -> int:
    """Write every pending rail order to `outbox` and mark it sent; the number written."""
    outbox.mkdir(parents=True, exist_ok=True)
    rows = session.execute(
        select(Event, Loan.payee, Loan.currency)
        .join(Loan, Loan.id == Event.loan_id)
        .where(Event.channel == RAIL, Event.transfer_state == "pending")
        .order_by(Event.id)
    ).all()
    for event, payee, currency in rows:
        body = {
            "direction": DIRECTIONS[event.kind],
            "account": payee.removeprefix("account:"),
            "amount": event.amount,
            "currency": currency,
            "reference": event.reference,
            "booked_on": event.booked_on.isoformat(),
        }
        target = outbox / f"{event.reference.replace(':', '_')}.json"
        aside = target.with_suffix(".tmp")
        aside.write_text(json.dumps(body, sort_keys=True), encoding="utf-8")
        os.replace(aside, target)
        event.transfer_state = "sent"
    session.flush()
    return len(rows)
