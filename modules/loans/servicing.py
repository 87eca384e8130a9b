"""Servicing a loan after it is made: early repayment, restructuring, write-off, its statement and the portfolio.

Every change is one balanced event in the loan book (book.py) and leaves the current schedule
owing exactly what the book's receivables say. Interest was booked in full when the loan was made
(receivable:interest against income:interest); what the borrower no longer owes of it (paid
early, restructured) is rebated: income:interest +U, receivable:interest −U.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.errors import Conflict
from ...core.i18n import _
from . import accrual, ageing, book
from .models import Event, Instalment, Line, Loan, LoanState, Position
from .schedule import build_schedule
from .service import (
    Context,
    channel_of,
    current_schedule,
    end_loan,
    get_loan,
    move_money,
    note_position,
    owed,
    terms_of,
)
from .terms import COMPONENTS, Component

EARLY_REPAYMENT = "early_repayment"


def _require_active(loan: Loan) -> None:
    if loan.state != LoanState.ACTIVE:
        raise Conflict(
            "reference: " + _("loan {reference} is {state}").format(reference=loan.reference, state=loan.state)
        )


def _interest_paid(session: Session, loan: Loan) -> int:
    """Interest the borrower has paid, over every version of the schedule."""
    paid = session.scalar(select(func.sum(Instalment.paid_interest)).where(Instalment.loan_id == loan.id))
    return int(paid or 0)


def _earned_unpaid(session: Session, loan: Loan, receivable_interest: int) -> int:
    """Interest accrued to date and not yet paid: never below 0, never more than the receivable holds."""
    earned = accrual.accrued_interest(session, loan.id)
    return max(0, min(earned - _interest_paid(session, loan), receivable_interest))


# ---------------------------------------------------------------- early repayment


@dataclass(frozen=True)
class Payoff:
    """What settles a loan today: principal outstanding, interest accrued to date, fees and penalties owed."""

    reference: str
    currency: str
    on: date
    principal: int
    interest: int
    fees: int
    penalties: int
    rebate: int  # interest booked but not earned: no longer owed when the loan is paid off

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fees + self.penalties


def quote(*, context: Context, reference: str, today: date) -> Payoff:
    loan = get_loan(session=context.session, reference=reference)
    _require_active(loan)
    return _quote(context.session, loan, today)


def _quote(session: Session, loan: Loan, today: date) -> Payoff:
    owes = book.balances(session, loan.id)
    interest = _earned_unpaid(session, loan, owes["interest"])
    return Payoff(
        reference=loan.reference,
        currency=loan.currency,
        on=today,
        principal=owes["principal"],
        interest=interest,
        fees=owes["fees"],
        penalties=owes["penalties"],
        rebate=owes["interest"] - interest,
    )


def repay_early(*, context: Context, reference: str, actor: str, today: date) -> Event:
    """Collect the payoff, settle every receivable, rebate the unearned interest and close the loan (once)."""
    session = context.session
    loan = get_loan(session=session, reference=reference)
    key = f"{loan.reference}:{EARLY_REPAYMENT}"
    existing = book.existing_event(session, key)
    if existing is not None:
        return existing
    _require_active(loan)
    payoff = _quote(session, loan, today)
    if payoff.total <= 0:
        raise Conflict("reference: " + _("loan {reference} owes nothing to repay").format(reference=reference))
    state = move_money(
        context=context, loan=loan, direction="collect", amount=payoff.total, reference=f"{loan.reference}-payoff"
    )
    event = book.book(
        session=session,
        loan=loan,
        kind=EARLY_REPAYMENT,
        reference=key,
        lines={
            book.CASH: payoff.total,
            book.receivable("principal"): -payoff.principal,
            book.receivable("fees"): -payoff.fees,
            book.receivable("penalties"): -payoff.penalties,
            book.receivable("interest"): -(payoff.interest + payoff.rebate),
            book.income("interest"): payoff.rebate,
        },
        amount=payoff.total,
        booked_on=today,
        channel=channel_of(context),
        transfer_state=state,
        actor=actor,
    )
    interest_left = payoff.interest
    schedule = current_schedule(session, loan)
    for instalment in schedule:
        dues = owed(instalment)
        paid_interest = min(dues["interest"], interest_left)
        interest_left -= paid_interest
        instalment.paid_principal += dues["principal"]
        instalment.paid_fees += dues["fees"]
        instalment.paid_penalties += dues["penalties"]
        instalment.paid_interest += paid_interest
        instalment.waived += dues["interest"] - paid_interest  # rebated: no longer owed
        if instalment.settled_on is None:
            instalment.settled_on = today
    end_loan(loan, LoanState.CLOSED, today)
    audit.record(
        session=session,
        actor=actor,
        action="loans.loan.repaid_early",
        subject=f"loan:{loan.reference}",
        detail={"amount": payoff.total, "interest": payoff.interest, "rebate": payoff.rebate, "state": state},
    )
    return event


# ---------------------------------------------------------------- restructuring


def restructure(*, context: Context, reference: str, instalments: int, actor: str, today: date) -> Loan:
    """Reschedule the outstanding principal over `instalments` from today (a new schedule version).

    Interest not yet earned is rebated and the new schedule's interest booked; what is owed and
    not rescheduled (earned interest, fees, penalties) falls due with the new first instalment.
    The previous version's unpaid instalments are waived.
    """
    session = context.session
    loan = get_loan(session=session, reference=reference)
    session.refresh(loan, with_for_update=True)
    _require_active(loan)
    owes = book.balances(session, loan.id)
    if owes["principal"] <= 0:
        raise Conflict(
            "reference: " + _("loan {reference} has no principal left to reschedule").format(reference=reference)
        )
    earned = _earned_unpaid(session, loan, owes["interest"])
    rebate = owes["interest"] - earned
    stored = dict(loan.terms)
    stored.update(instalments=instalments, grace_instalments=0)
    terms = terms_of({**stored, "fee_rate": "0", "fee_flat": 0})  # no new origination fee
    schedule = build_schedule(principal=owes["principal"], terms=terms, disbursed_on=today, rounding=context.rounding)
    new_interest = sum(item.interest for item in schedule)
    old = current_schedule(session, loan)
    for instalment in old:
        if instalment.settled_on is None:
            dues = owed(instalment)
            instalment.waived += dues["principal"] + dues["interest"] + dues["fees"]
    version = loan.schedule_version + 1
    new_schedule = [
        Instalment(
            loan_id=loan.id,
            version=version,
            number=item.number,
            due_on=item.due_on,
            principal=item.principal,
            interest=item.interest + (earned if item.number == 1 else 0),
            fees=owes["fees"] if item.number == 1 else 0,
            penalties=owes["penalties"] if item.number == 1 else 0,
        )
        for item in schedule
    ]
    session.add_all(new_schedule)
    event = book.book(
        session=session,
        loan=loan,
        kind="restructured",
        reference=f"{loan.reference}:restructured:{version}",
        lines={
            book.income("interest"): rebate - new_interest,
            book.receivable("interest"): new_interest - rebate,
        },
        amount=owes["principal"],
        booked_on=today,
        channel="book",
        actor=actor,
    )
    loan.schedule_version, loan.terms = version, stored
    loan.schedule_from, loan.carried_interest = today, earned  # the accrual's start of the new first period
    note_position(loan, new_schedule, new_version=True)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="loans.loan.restructured",
        subject=f"loan:{loan.reference}",
        detail={
            "version": version,
            "instalments": instalments,
            "principal": owes["principal"],
            "rebate": rebate,
            "interest": new_interest,
            "event": event.reference,
        },
    )
    return loan


# ---------------------------------------------------------------- write-off


def write_off(*, context: Context, reference: str, reason: str, actor: str, today: date) -> Loan:
    """Move everything the borrower owes to expense:write_off; the loan is written off, with the reason."""
    session = context.session
    loan = get_loan(session=session, reference=reference)
    session.refresh(loan, with_for_update=True)
    _require_active(loan)
    owes = book.balances(session, loan.id)
    total = sum(owes.values())
    book.book(
        session=session,
        loan=loan,
        kind="written_off",
        reference=f"{loan.reference}:written_off",
        lines={book.WRITE_OFF: total, **{book.receivable(c): -owes[c] for c in COMPONENTS}},
        amount=total,
        booked_on=today,
        channel="book",
        actor=actor,
    )
    for instalment in current_schedule(session, loan):
        if instalment.settled_on is None:
            dues = owed(instalment)
            instalment.waived += dues["principal"] + dues["interest"] + dues["fees"]
    end_loan(loan, LoanState.WRITTEN_OFF, today)
    audit.record(
        session=session,
        actor=actor,
        action="loans.loan.written_off",
        subject=f"loan:{loan.reference}",
        detail={"reason": reason, "amount": total, **{c: owes[c] for c in COMPONENTS}},
    )
    return loan


# ---------------------------------------------------------------- statement


@dataclass(frozen=True)
class StatementEvent:
    kind: str
    reference: str
    booked_on: date
    amount: int
    channel: str
    transfer_state: str | None
    lines: dict[str, int]
    balances: dict[Component, int]  # what the borrower owes per component after this event


@dataclass(frozen=True)
class Statement:
    reference: str
    currency: str
    state: str
    principal: int
    disbursed_on: date
    events: list[StatementEvent]
    owed: dict[Component, int]


def statement(*, session: Session, reference: str) -> Statement:
    loan = get_loan(session=session, reference=reference)
    events = list(session.scalars(select(Event).where(Event.loan_id == loan.id).order_by(Event.id)))
    lines: dict[int, dict[str, int]] = {event.id: {} for event in events}
    for line in session.scalars(select(Line).where(Line.loan_id == loan.id).order_by(Line.id)):
        lines[line.event_id][line.account] = lines[line.event_id].get(line.account, 0) + line.amount
    running: dict[Component, int] = dict.fromkeys(COMPONENTS, 0)
    found = []
    for event in events:
        for component in COMPONENTS:
            running[component] += lines[event.id].get(book.receivable(component), 0)
        found.append(
            StatementEvent(
                kind=event.kind,
                reference=event.reference,
                booked_on=event.booked_on,
                amount=event.amount,
                channel=event.channel,
                transfer_state=event.transfer_state,
                lines=lines[event.id],
                balances=dict(running),
            )
        )
    return Statement(
        reference=loan.reference,
        currency=loan.currency,
        state=loan.state,
        principal=loan.principal,
        disbursed_on=loan.disbursed_on,
        events=found,
        owed=dict(running),
    )


# ---------------------------------------------------------------- ageing


@dataclass(frozen=True)
class Ageing:
    """How late a loan is as of the latest day accrued for it (`on`; None before the first)."""

    on: date | None
    days_past_due: int

    @property
    def bucket(self) -> str:
        return ageing.bucket(self.days_past_due)


def ageing_of(session: Session, loan: Loan) -> Ageing:
    """The loan's ageing as of its latest accrued day, from its position as it stands (0 once closed)."""
    on = accrual.last_accrued_day(session, loan.id)
    return Ageing(on, ageing.days_past_due(loan.position.unpaid_from if loan.position else None, on))


# ---------------------------------------------------------------- portfolio

DISBURSED_MONTHS = 12  # the months the portfolio counts loans disbursed in, this one included
LATE_LISTED = 20  # the late loans the portfolio lists, most days past due first


@dataclass(frozen=True)
class LateLoan:
    """An active loan past due, as the portfolio lists it."""

    reference: str
    product_code: str
    days_past_due: int
    region: str | None


@dataclass(frozen=True)
class Portfolio:
    """Active loans and their outstanding principal, portfolio at risk and the repayment rate, as of `on`;
    what borrowers owe by arrears bucket, the loans disbursed per month and the loans most days late."""

    on: date
    currency: str
    active_loans: int
    outstanding_principal: int
    at_risk_30: int  # outstanding principal of active loans more than 30 days past due
    at_risk_90: int
    paid_to_date: int  # paid of the instalments due by `on` (current schedules)
    due_to_date: int
    # Owed on active loans (every component: the receivable lines), by each loan's arrears bucket on
    # `on` (ageing.py); every bucket, zero when empty.
    outstanding_by_bucket: dict[str, int]
    # Loans disbursed in each of the last DISBURSED_MONTHS months, by the month's first day, oldest first.
    disbursed_by_month: dict[date, int]
    late: list[LateLoan]  # active loans past due, most days first, at most LATE_LISTED

    @staticmethod
    def _ratio(part: int, whole: int) -> Fraction | None:
        return Fraction(part, whole) if whole else None

    @property
    def par30(self) -> Fraction | None:
        return self._ratio(self.at_risk_30, self.outstanding_principal)

    @property
    def par90(self) -> Fraction | None:
        return self._ratio(self.at_risk_90, self.outstanding_principal)

    @property
    def repayment_rate(self) -> Fraction | None:
        return self._ratio(self.paid_to_date, self.due_to_date)


def month_starts(today: date, months: int = DISBURSED_MONTHS) -> list[date]:
    """The first days of the last `months` months, oldest first, this month last."""
    starts = []
    year, month = today.year, today.month
    for _step in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def _within(query: Select, regions: frozenset[str] | None) -> Select:
    """Limited to `regions` (None: everywhere); a loan without a region is reached by unlimited roles only."""
    return query if regions is None else query.where(Loan.region.in_(sorted(regions)))


def portfolio(*, context: Context, today: date, regions: frozenset[str] | None = None) -> Portfolio:
    """The portfolio as of `today`, of the loans in `regions` (None: every loan; the console passes the viewer's)."""
    session = context.session
    active = Loan.state == LoanState.ACTIVE

    def principal_where(*conditions) -> int:
        total = session.scalar(
            _within(
                select(func.sum(Line.amount))
                .join(Loan, Loan.id == Line.loan_id)
                .join(Position, Position.loan_id == Loan.id)
                .where(Line.account == book.receivable("principal"), active, *conditions),
                regions,
            )
        )
        return int(total or 0)

    due = Instalment.principal + Instalment.interest + Instalment.fees + Instalment.penalties
    paid = Instalment.paid_principal + Instalment.paid_interest + Instalment.paid_fees + Instalment.paid_penalties
    paid_to_date, due_to_date = session.execute(
        _within(
            select(func.sum(paid), func.sum(due))
            .join(Loan, Loan.id == Instalment.loan_id)
            .where(Instalment.version == Loan.schedule_version, Instalment.due_on <= today),
            regions,
        )
    ).one()
    arrears = ageing.bucket_sql(Position.unpaid_from, today)
    owed_by_bucket = _within(
        select(arrears, func.sum(Line.amount))
        .select_from(Loan)
        .join(Position, Position.loan_id == Loan.id)
        .join(Line, Line.loan_id == Loan.id)
        .where(active, Line.account.like("receivable:%"))
        .group_by(arrears),
        regions,
    )
    outstanding_by_bucket = dict.fromkeys(ageing.BUCKET_NAMES, 0)
    for bucket, total in session.execute(owed_by_bucket).all():
        outstanding_by_bucket[bucket] = outstanding_by_bucket.get(bucket, 0) + int(total or 0)
    starts = month_starts(today)
    disbursed = Counter(
        day.replace(day=1)
        for day in session.scalars(_within(select(Loan.disbursed_on).where(Loan.disbursed_on >= starts[0]), regions))
    )
    late = session.execute(
        _within(
            select(Loan.reference, Loan.product_code, Position.unpaid_from, Loan.region)
            .join(Position, Position.loan_id == Loan.id)
            .where(active, ageing.later_than(Position.unpaid_from, 0, today)),
            regions,
        )
        .order_by(Position.unpaid_from, Loan.id)
        .limit(LATE_LISTED)
    ).all()
    return Portfolio(
        on=today,
        currency=context.currency,
        active_loans=int(session.scalar(_within(select(func.count()).select_from(Loan).where(active), regions)) or 0),
        outstanding_principal=principal_where(),
        at_risk_30=principal_where(ageing.later_than(Position.unpaid_from, 30, today)),
        at_risk_90=principal_where(ageing.later_than(Position.unpaid_from, 90, today)),
        paid_to_date=int(paid_to_date or 0),
        due_to_date=int(due_to_date or 0),
        outstanding_by_bucket=outstanding_by_bucket,
        disbursed_by_month={start: disbursed.get(start, 0) for start in starts},
        late=[
            LateLoan(ref, code, ageing.days_past_due(unpaid_from, today), region)
            for ref, code, unpaid_from, region in late
        ],
    )
