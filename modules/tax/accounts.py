"""Each taxpayer's running account: assessed, penalties, interest, paid, refunded, balance.

Payments go through the `Disbursements` port (`collect`) when the payments module is
installed, and are recorded as a receipt otherwise; refunds go out through
`Disbursements.pay` to the taxpayer's linked account and are refused without it.
A taxpayer registered by national ID is held by its tax sector token only, so the
caller gives the national ID again and it is checked against that token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import Conflict, Unprocessable
from ...core.i18n import _
from ...core.money import Money
from ...core.ports import Disbursements, SectorTokens
from ...core.registry import Ports
from . import service
from .models import AccountEntry, Assessment, AssessmentState, EntryKind, Taxpayer

COMMITTED = "committed"


@dataclass(frozen=True)
class Statement:
    tin: str
    currency: str
    as_of: date
    totals: dict[str, int]
    interest: int
    interest_detail: list[dict[str, Any]]
    balance: int  # positive: the taxpayer owes; negative: a credit that may be refunded
    entries: list[AccountEntry]


def statement(*, session: Session, tin: str, country: LoadedCountry, as_of: date | None = None) -> Statement:
    """The account on `as_of`: every committed entry plus interest accrued on what was unpaid after each due date."""
    service.get_taxpayer(session=session, tin=tin, country=country)
    rules = service.rules_for(country)
    as_of = as_of or date.today()
    entries = list(session.scalars(select(AccountEntry).where(AccountEntry.tin == tin).order_by(AccountEntry.id)))
    committed = [e for e in entries if e.state == COMMITTED and e.booked_on <= as_of]
    totals = {kind.value: 0 for kind in EntryKind}
    for entry in committed:
        totals[entry.kind] += entry.amount
    current = session.scalars(
        select(Assessment).where(Assessment.tin == tin, Assessment.state == AssessmentState.CURRENT)
    ).all()
    debts = [(a.due_on, a.tax_due + a.penalty) for a in current if a.due_on is not None]
    debts += [(e.booked_on, e.amount) for e in committed if e.kind == EntryKind.REFUNDED]
    payments = [(e.booked_on, -e.amount) for e in committed if e.kind == EntryKind.PAID]
    interest, detail = rules.interest(debts=debts, payments=payments, as_of=as_of)
    return Statement(
        tin=tin,
        currency=rules.currency,
        as_of=as_of,
        totals=totals,
        interest=interest,
        interest_detail=detail,
        # Interest the worker booked (accrue_interest) is among the entries: only the rest is added.
        balance=sum(e.amount for e in committed) + interest - totals[EntryKind.INTEREST.value],
        entries=entries,
    )


def accrue_interest(
    *, session: Session, tin: str, country: LoadedCountry, today: date, actor: str
) -> AccountEntry | None:
    """Book the interest accrued on `tin`'s unpaid tax up to `today` and not booked yet; None when nothing is due.

    The interest is the profile's rule (`penalties.interest`, the same the statement shows); booking
    it makes it an entry of the account the taxpayer is charged, once a day at most (its reference
    names the day), and leaves the statement's balance as it was.
    """
    account = statement(session=session, tin=tin, country=country, as_of=today)
    due = account.interest - account.totals[EntryKind.INTEREST.value]
    reference = f"interest:{tin}:{today.isoformat()}"
    if due <= 0 or session.scalar(select(AccountEntry.id).where(AccountEntry.reference == reference)) is not None:
        return None
    entry = AccountEntry(
        tin=tin,
        kind=EntryKind.INTEREST,
        amount=due,
        currency=account.currency,
        reference=reference,
        state=COMMITTED,
        booked_on=today,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="tax.interest.accrued",
        subject=f"taxpayer:{tin}",
        detail={"reference": reference, "amount": due, "currency": account.currency, "as_of": today.isoformat()},
    )
    return entry


def overdue_tins(*, session: Session, today: date) -> list[str]:
    """Taxpayers with a current assessment past its due date: the ones interest may accrue on."""
    query = (
        select(Assessment.tin)
        .where(Assessment.state == AssessmentState.CURRENT, Assessment.due_on < today)
        .distinct()
        .order_by(Assessment.tin)
    )
    return list(session.scalars(query))


def pay(
    *,
    session: Session,
    tin: str,
    amount: int,
    reference: str,
    national_id: str | None,
    country: LoadedCountry,
    ports: Ports,
    actor: str,
    today: date | None = None,
) -> AccountEntry:
    """Record a payment of tax; through payments (collect) when installed, as a receipt otherwise. Idempotent."""
    taxpayer = service.get_taxpayer(session=session, tin=tin, country=country)
    currency = country.profile.currency
    key = f"payment:{reference}"
    existing = _existing(session, key, tin, -amount)
    if existing is not None:
        return existing
    disbursements = ports.get(Disbursements)
    channel, state = "receipt", COMMITTED
    if disbursements is not None:
        who = _beneficiary(session=session, taxpayer=taxpayer, national_id=national_id, ports=ports)
        outcome = disbursements.collect(
            session=session,
            amount=Money(currency, amount),
            reference=f"tax-{key}",
            purpose=f"tax payment, TIN {tin}",
            **who,
        )
        if outcome.state == "rejected":
            raise Unprocessable(
                "payment: " + _("refused by the payments ledger: {reason}").format(reason=outcome.reason),
                kind="payment-rejected",
            )
        channel, state = "payments", outcome.state
    entry = AccountEntry(
        tin=tin,
        kind=EntryKind.PAID,
        amount=-amount,
        currency=currency,
        reference=key,
        channel=channel,
        state=state,
        booked_on=today or date.today(),
    )
    session.add(entry)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="tax.payment.received",
        subject=f"taxpayer:{tin}",
        detail={"reference": key, "amount": amount, "currency": currency, "channel": channel, "state": state},
    )
    return entry


def refund(
    *,
    session: Session,
    tin: str,
    amount: int | None,
    reference: str,
    national_id: str | None,
    country: LoadedCountry,
    ports: Ports,
    actor: str,
    today: date | None = None,
) -> AccountEntry:
    """Pay a credit back to the taxpayer's linked account (payments module required). Idempotent."""
    taxpayer = service.get_taxpayer(session=session, tin=tin, country=country)
    key = f"refund:{reference}"
    today = today or date.today()
    account = statement(session=session, tin=tin, country=country, as_of=today)
    existing = _existing(session, key, tin, amount)
    if existing is not None:
        return existing
    credit = -account.balance
    if credit <= 0:
        raise Conflict(
            "amount: "
            + _("taxpayer {tin} has no credit to refund (balance {balance})").format(tin=tin, balance=account.balance)
        )
    amount = credit if amount is None else amount
    if amount > credit:
        raise Unprocessable(
            "amount: "
            + _("{amount} is more than the credit of {credit} {currency}").format(
                amount=amount, credit=credit, currency=account.currency
            )
        )
    disbursements = ports.get(Disbursements)
    if disbursements is None:
        raise Unprocessable(
            "refund: "
            + _(
                "this deployment has no payments module to pay it through; pay the refund outside "
                "the system and record it there"
            ),
            kind="payments-not-installed",
        )
    who = _beneficiary(session=session, taxpayer=taxpayer, national_id=national_id, ports=ports)
    outcome = disbursements.pay(
        session=session,
        amount=Money(account.currency, amount),
        reference=f"tax-{key}",
        purpose=f"tax refund, TIN {tin}",
        **who,
    )
    if outcome.state == "rejected":
        raise Unprocessable(
            "refund: " + _("refused by the payments ledger: {reason}").format(reason=outcome.reason),
            kind="payment-rejected",
        )
    entry = AccountEntry(
        tin=tin,
        kind=EntryKind.REFUNDED,
        amount=amount,
        currency=account.currency,
        reference=key,
        channel="payments",
        state=outcome.state,
        booked_on=today,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="tax.refund.paid",
        subject=f"taxpayer:{tin}",
        detail={"reference": key, "amount": amount, "currency": account.currency, "state": outcome.state},
    )
    return entry


def _existing(session: Session, reference: str, tin: str, amount: int | None) -> AccountEntry | None:
    entry = session.scalar(select(AccountEntry).where(AccountEntry.reference == reference))
    if entry is None:
        return None
    if entry.tin != tin or (amount is not None and entry.amount != amount):
        raise Conflict(
            "reference: "
            + _("'{reference}' was already used for another amount or taxpayer").format(
                reference=reference.split(":", 1)[1]
            )
        )
    return entry


def _beneficiary(
    *, session: Session, taxpayer: Taxpayer, national_id: str | None, ports: Ports
) -> dict[str, str | None]:
    """How the payments module knows this taxpayer: the national ID (checked against our token) or the external ID."""
    scheme, _separator, value = taxpayer.reference.partition(":")
    if scheme == "external":
        return {"national_id": None, "external_id": value}
    if national_id is None:
        raise Unprocessable(
            "national_id: "
            + _("taxpayer {tin} is registered by national ID; give it to reach their linked account").format(
                tin=taxpayer.tin
            )
        )
    tokens = ports.get(SectorTokens)
    if tokens is None:
        raise Unprocessable("national_id: " + _("this deployment has no identity registry to check it against"))
    if tokens.token_for(session=session, national_id=national_id, sector=service.SECTOR) != value:
        raise Unprocessable("national_id: " + _("it does not belong to taxpayer {tin}").format(tin=taxpayer.tin))
    return {"national_id": national_id, "external_id": None}
