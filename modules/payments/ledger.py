"""The one way money moves: a posting is a transfer between two ledger accounts and its two entries.

Every movement (an API transfer, a port's payment or collection, a cycle's funding, its payments and their
returns) is a `Posting`. `post` writes one row by row, checking the payer may be debited; `post_many` writes
a list through the driver's bulk path and `post_selected` a SELECT's rows with set-based SQL, for cycles whose
funds were blocked when they started. All three write the entries `entry_legs` defines, so a transfer's
entries always sum to zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Subquery, func, insert, literal, select, union_all
from sqlalchemy.orm import Session

from ...core.bulk import driver_value, insert_rows
from ...core.errors import Unprocessable
from ...core.i18n import _
from ...core.models import utcnow
from ...core.money import Money, MoneyError, minor_units
from .models import Entry, LedgerAccount, Transfer, TransferState

ENTRY_COLUMNS = ("transfer_id", "account_id", "amount")
TRANSFER_COLUMNS = (
    "client_reference",
    "request_hash",
    "state",
    "beneficiary_key",
    "payer_account_id",
    "payee_account_id",
    "amount",
    "currency",
    "reason",
    "received_at",
    "completed_at",
)


@dataclass(frozen=True, slots=True)
class Posting:
    """Move `amount` from the `payer` account to the `payee` account (ledger account ids) as transfer `reference`."""

    reference: str
    beneficiary_key: str
    payer: int
    payee: int
    amount: Money
    request_hash: str
    reason: str | None = None  # why it was made, kept with the transfer (a return's cause)


def entry_legs(transfer: Any, payer: Any, payee: Any, amount: Any) -> tuple[tuple[Any, Any, Any], ...]:
    """The entries of a transfer: the payer's debit and the payee's credit, summing to zero.

    Python values for the row-by-row and bulk forms, column expressions for the set-based one.
    """
    return (transfer, payer, -amount), (transfer, payee, amount)


def check_currency(requested: str, deployment: str) -> None:
    """The deployment moves money in its own currency only; anything else is refused, naming the field."""
    if requested == deployment:
        return
    try:
        minor_units(requested)
    except MoneyError as error:
        raise Unprocessable(
            _("{error}; this deployment pays in {currency} only").format(error=error, currency=deployment),
            field="currency",
        ) from None
    raise Unprocessable(
        _("{requested} is not accepted; this deployment pays in {currency} only").format(
            requested=requested, currency=deployment
        ),
        field="currency",
    )


def deployment_money(amount: int, currency: str, deployment: str) -> Money:
    """`amount` minor units of `currency` as Money, once `check_currency` has accepted the currency."""
    check_currency(currency, deployment)
    return Money(currency, amount)


def account_balance(*, session: Session, account_id: int) -> int:
    # int(): PostgreSQL sums BIGINT as NUMERIC, which arrives as a Decimal.
    return int(session.scalar(select(func.coalesce(func.sum(Entry.amount), 0)).where(Entry.account_id == account_id)))


def post(session: Session, posting: Posting) -> Transfer:
    """Write the posting's transfer: committed with its entries, or rejected with the reason.

    The transfer row is flushed first, so a reference used concurrently fails here (IntegrityError) before
    any money moves; the caller decides what a duplicate means.
    """
    record = Transfer(
        client_reference=posting.reference,
        request_hash=posting.request_hash,
        state=TransferState.RECEIVED,
        beneficiary_key=posting.beneficiary_key,
        payer_account_id=posting.payer,
        payee_account_id=posting.payee,
        amount=posting.amount.amount,
        currency=posting.amount.currency,
        reason=posting.reason,
    )
    session.add(record)
    session.flush()
    refused = reserve(session, session.get_one(LedgerAccount, posting.payer), posting.amount)
    if refused is None:
        record.state = TransferState.RESERVED
        session.add_all(
            Entry(transfer_id=transfer, account_id=account, amount=amount)
            for transfer, account, amount in entry_legs(record.id, posting.payer, posting.payee, record.amount)
        )
        record.state = TransferState.COMMITTED
    else:
        record.state, record.reason = TransferState.REJECTED, refused
    record.completed_at = utcnow()
    session.flush()
    return record


def reserve(session: Session, payer: LedgerAccount, amount: Money) -> str | None:
    """Check the payer can be debited `amount`; None when it can, else the reason for rejecting."""
    if payer.allow_negative:
        return None
    # Lock the payer so two transfers cannot both spend the same balance.
    locked = session.scalars(select(LedgerAccount).where(LedgerAccount.id == payer.id).with_for_update()).one()
    available = account_balance(session=session, account_id=locked.id)
    if available - amount.amount >= 0:
        return None
    # Stored with the transfer and read back by every later caller, whatever their language: kept in English.
    return (
        f"insufficient funds: account {locked.code} holds {Money(amount.currency, available)} and may not go "
        f"negative; {amount} requested"
    )


def post_many(session: Session, postings: Sequence[Posting]) -> None:
    """Write committed postings through the driver's bulk path; their payers' funds are already blocked."""
    if not postings:
        return
    connection = session.connection()
    stamp = driver_value(connection, Transfer.__table__.c.completed_at, utcnow())
    committed = TransferState.COMMITTED.value
    rows = [
        (
            *(p.reference, p.request_hash, committed, p.beneficiary_key, p.payer, p.payee),
            *(p.amount.amount, p.amount.currency, p.reason, stamp, stamp),
        )
        for p in postings
    ]
    insert_rows(connection, Transfer.__table__, TRANSFER_COLUMNS, rows)
    ids = dict(
        session.execute(
            select(Transfer.client_reference, Transfer.id).where(
                Transfer.client_reference.in_([p.reference for p in postings])
            )
        ).all()
    )
    entries = [leg for p in postings for leg in entry_legs(ids[p.reference], p.payer, p.payee, p.amount.amount)]
    insert_rows(connection, Entry.__table__, ENTRY_COLUMNS, entries)


def post_selected(session: Session, postings: Subquery, *, request_hash: str, now: datetime) -> None:
    """Write committed postings a query selects, set-based; their payers' funds are already blocked.

    `postings` has the columns reference, beneficiary_key, payer, payee, amount and currency.
    """
    stamp = literal(now, DateTime(timezone=True))
    session.execute(
        insert(Transfer).from_select(
            [column for column in TRANSFER_COLUMNS if column != "reason"],
            select(
                postings.c.reference,
                literal(request_hash),
                literal(TransferState.COMMITTED.value),
                postings.c.beneficiary_key,
                postings.c.payer,
                postings.c.payee,
                postings.c.amount,
                postings.c.currency,
                stamp,
                stamp,
            ),
        )
    )
    written = (
        select(Transfer.id, Transfer.payer_account_id, Transfer.payee_account_id, Transfer.amount)
        .join(postings, postings.c.reference == Transfer.client_reference)
        .subquery()
    )
    legs = entry_legs(written.c.id, written.c.payer_account_id, written.c.payee_account_id, written.c.amount)
    session.execute(insert(Entry).from_select(ENTRY_COLUMNS, union_all(*(select(*leg) for leg in legs))))
