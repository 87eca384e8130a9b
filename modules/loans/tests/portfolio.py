"""A portfolio of N loans with their schedules, written straight into the tables: the accrual tests' and the bench's.

The loans come from a thousand templates (a product, a principal, a disbursement day before the
portfolio's `day`, and for one loan in `late_every` an arrears of 1 to 120 days), each built with
the module's own schedule (`schedule.build_schedule`, the country's rounding). The portfolio is as
the daily accrual left it on the eve of `day`: instalments due before it paid on their due date
(but the late loans' recent ones), positions and periods as the accrual of `day` − 1 left them (no
accrual history: nothing in a day's accrual reads it), and the penalties of instalments that
passed their grace before `day` charged on the instalments. So the next run, for `day`, is an
ordinary day: interest on every loan, the penalties of instalments whose grace ends that day. What
it must find is computed here from the templates, in Python, with the rules of `accrual.py`
(`expected`).

Applications, loans, positions and instalments are inserted with `INSERT … SELECT` from a numbers
CTE and temporary template tables, in transactions of 100,000 loans: a million loans in well under
a minute on SQLite. The book holds no disbursement events for them (nothing here reads them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
)

from ....core.models import utcnow
from ....core.money import Rounding
from ..accrual import day_interest, penalty_amount
from ..ageing import bucket
from ..models import Application, Loan
from ..schedule import Instalment as ScheduledInstalment
from ..schedule import build_schedule
from ..terms import Terms

TEMPLATES = 1000
BATCH = 100_000
PRINCIPALS = (50_000, 120_000, 250_000, 1_000_000)
PRODUCTS: dict[str, dict[str, Any]] = {
    "PF-MONTHLY": {
        "interest_method": "declining",
        "annual_rate": "0.24",
        "instalments": 12,
        "frequency": "monthly",
        "fee_rate": "0.01",
        "fee_flat": 500,
        "min_principal": 10_000,
        "max_principal": 5_000_000,
        "penalty": {"rate": "0.05", "flat": 100, "after_days": 3},
    },
    "PF-WEEKLY": {
        "interest_method": "flat",
        "annual_rate": "0.3",
        "instalments": 16,
        "frequency": "weekly",
        "min_principal": 10_000,
        "max_principal": 5_000_000,
        "penalty": {"rate": "0.02", "flat": 0, "after_days": 7},
    },
}


@dataclass
class Expected:
    """What the accrual of the portfolio's `day` must do."""

    loans: int = 0
    interest: int = 0
    penalties: int = 0
    penalty_amount: int = 0
    buckets: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Portfolio:
    first_id: int
    last_id: int
    day: date
    expected: Expected

    @property
    def count(self) -> int:
        return self.last_id - self.first_id + 1


@dataclass
class _Template:
    product: str
    principal: int
    disbursed_on: date
    terms: dict[str, Any]
    instalments: list[dict[str, Any]]
    position: dict[str, Any]  # the loan's position and period as the eve's accrual left them (models.Position)
    interest_today: int
    penalties_today: list[int]
    days_past_due_today: int


def _template(number: int, day: date, rounding: Rounding, late_every: int) -> _Template:
    code = list(PRODUCTS)[number % len(PRODUCTS)]
    terms = Terms.model_validate(PRODUCTS[code])
    term_days = 365 if terms.frequency == "monthly" else 7 * terms.instalments
    disbursed_on = day - timedelta(days=(number * 37) % term_days)
    principal = PRINCIPALS[(number // 7) % len(PRINCIPALS)]
    late = late_every and (number // len(PRODUCTS)) % late_every == 1
    late_days = 1 + (number * 13) % 120 if late else 0
    schedule = build_schedule(principal=principal, terms=terms, disbursed_on=disbursed_on, rounding=rounding)
    eve = day - timedelta(days=1)
    penalty = terms.penalty.model_dump(mode="json")
    rows, interest_today, oldest, penalties_today = [], 0, None, []
    start = disbursed_on
    for item in schedule:
        interest_today += day_interest(item.interest, start, item.due_on, day)
        start = item.due_on
        row = {
            "number": item.number,
            "due_on": item.due_on,
            "principal": item.principal,
            "interest": item.interest,
            "fees": item.fees,
            "penalties": 0,
            "paid_principal": 0,
            "paid_interest": 0,
            "paid_fees": 0,
            "settled_on": None,
            "penalised_on": None,
        }
        if item.due_on < day:
            if late_days and item.due_on >= day - timedelta(days=late_days):
                oldest = oldest or item.due_on
                charge = penalty_amount(item.total, penalty, rounding)
                if (eve - item.due_on).days > terms.penalty.after_days and charge:
                    row["penalties"] = charge
                    row["penalised_on"] = item.due_on + timedelta(days=terms.penalty.after_days + 1)
                elif (day - item.due_on).days > terms.penalty.after_days and charge:
                    penalties_today.append(charge)
            else:
                row |= {"paid_principal": item.principal, "paid_interest": item.interest, "paid_fees": item.fees}
                row["settled_on"] = item.due_on
        rows.append(row)
    settled = [row["settled_on"] for row in rows if row["settled_on"] is not None]
    position = {
        "unpaid_from": min((row["due_on"] for row in rows if row["settled_on"] is None), default=None),
        "last_settled_on": max(settled, default=None),
        **_period(schedule, disbursed_on, eve),
    }
    return _Template(
        product=code,
        principal=principal,
        disbursed_on=disbursed_on,
        terms=terms.model_dump(mode="json"),
        instalments=rows,
        position=position,
        interest_today=interest_today,
        penalties_today=penalties_today,
        days_past_due_today=(day - oldest).days if oldest else 0,
    )


def _period(schedule: list[ScheduledInstalment], disbursed_on: date, eve: date) -> dict[str, Any]:
    """The period the eve's accrual found the eve in (start < eve <= due), or none (disbursed on the eve, matured)."""
    start = disbursed_on
    for item in schedule:
        if start < eve <= item.due_on:
            return {
                "period_number": item.number,
                "period_start": start,
                "period_due": item.due_on,
                "period_interest": item.interest,
            }
        start = item.due_on
    return {"period_number": None, "period_start": None, "period_due": None, "period_interest": None}


def _tables(metadata: MetaData) -> tuple[Table, Table]:
    loans = Table(
        "portfolio_template",
        metadata,
        Column("template", Integer, primary_key=True),
        Column("product_code", String(40)),
        Column("principal", BigInteger),
        Column("terms", JSON),
        Column("disbursed_on", Date),
        Column("unpaid_from", Date),
        Column("last_settled_on", Date),
        Column("period_number", Integer),
        Column("period_start", Date),
        Column("period_due", Date),
        Column("period_interest", BigInteger),
        prefixes=["TEMPORARY"],
    )
    instalments = Table(
        "portfolio_template_instalment",
        metadata,
        Column("template", Integer, primary_key=True),
        Column("number", Integer, primary_key=True),
        Column("due_on", Date),
        Column("principal", BigInteger),
        Column("interest", BigInteger),
        Column("fees", BigInteger),
        Column("penalties", BigInteger),
        Column("paid_principal", BigInteger),
        Column("paid_interest", BigInteger),
        Column("paid_fees", BigInteger),
        Column("settled_on", Date),
        Column("penalised_on", Date),
        prefixes=["TEMPORARY"],
    )
    return loans, instalments


NUMBERS = "WITH RECURSIVE n(i) AS (SELECT CAST(:low AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < :high)"
ID = "CAST(n.i AS VARCHAR(20))"
PREFIX = "CAST(:prefix AS VARCHAR(20))"

APPLICATIONS = f"""
INSERT INTO loans_application (id, reference, product_code, borrower, payee, region, principal, currency,
    credit_limit, consent, channel, state, reasons, made_by, decided_by, submitted_at, decided_at)
{NUMBERS}
SELECT n.i, {PREFIX} || '-A-' || {ID}, t.product_code, 'external:' || {PREFIX} || {ID},
       'account:' || {PREFIX} || {ID}, NULL, t.principal, CAST(:currency AS VARCHAR(3)), NULL, NULL, 'api',
       'disbursed', :reasons, 'portfolio', 'portfolio', :now, :now
FROM n JOIN portfolio_template t ON t.template = (n.i - :first) % {TEMPLATES}
"""  # noqa: S608

LOANS = f"""
INSERT INTO loans_loan (id, reference, application_id, product_code, borrower, payee, region, currency, principal,
    terms, disbursed_on, state, schedule_version, closed_on, schedule_from, carried_interest)
{NUMBERS}
SELECT n.i, {PREFIX} || '-L-' || {ID}, n.i, t.product_code, 'external:' || {PREFIX} || {ID},
       'account:' || {PREFIX} || {ID}, NULL, CAST(:currency AS VARCHAR(3)), t.principal, t.terms, t.disbursed_on,
       'active', 1, NULL, t.disbursed_on, 0
FROM n JOIN portfolio_template t ON t.template = (n.i - :first) % {TEMPLATES}
"""  # noqa: S608

POSITIONS = f"""
INSERT INTO loans_position (loan_id, disbursed_on, schedule_version, schedule_from, carried_interest, unpaid_from,
    last_settled_on, period_number, period_start, period_due, period_interest)
{NUMBERS}
SELECT n.i, t.disbursed_on, 1, t.disbursed_on, 0, t.unpaid_from, t.last_settled_on, t.period_number, t.period_start,
       t.period_due, t.period_interest
FROM n JOIN portfolio_template t ON t.template = (n.i - :first) % {TEMPLATES}
"""  # noqa: S608

INSTALMENTS = f"""
INSERT INTO loans_instalment (loan_id, version, number, due_on, principal, interest, fees, penalties,
    paid_principal, paid_interest, paid_fees, paid_penalties, waived, settled_on, penalised_on)
SELECT l.id, 1, t.number, t.due_on, t.principal, t.interest, t.fees, t.penalties, t.paid_principal, t.paid_interest,
       t.paid_fees, 0, 0, t.settled_on, t.penalised_on
FROM loans_loan l JOIN portfolio_template_instalment t ON t.template = (l.id - :first) % {TEMPLATES}
WHERE l.id BETWEEN :low AND :high
"""  # noqa: S608


def create_portfolio(
    engine: Engine, *, count: int, day: date, rounding: Rounding, currency: str, late_every: int = 20
) -> Portfolio:
    """`count` active loans ready to be accrued for `day` (see the module's docstring); what that run must find."""
    templates = [_template(number, day, rounding, late_every) for number in range(TEMPLATES)]
    metadata = MetaData()
    template_table, instalment_table = _tables(metadata)
    with engine.connect() as connection:
        metadata.create_all(connection)
        connection.execute(
            insert(template_table),
            [
                {
                    "template": number,
                    "product_code": t.product,
                    "principal": t.principal,
                    "terms": t.terms,
                    "disbursed_on": t.disbursed_on,
                    **t.position,
                }
                for number, t in enumerate(templates)
            ],
        )
        connection.execute(
            insert(instalment_table),
            [{"template": number, **row} for number, t in enumerate(templates) for row in t.instalments],
        )
        first = 1 + max(
            connection.scalar(select(func.coalesce(func.max(Loan.id), 0))),
            connection.scalar(select(func.coalesce(func.max(Application.id), 0))),
        )
        connection.commit()
        prefix = f"PF{first}"
        for low in range(first, first + count, BATCH):
            high = min(first + count, low + BATCH) - 1
            values = {"low": low, "high": high, "first": first, "prefix": prefix, "currency": currency}
            stamped = text(APPLICATIONS).bindparams(
                bindparam("reasons", type_=JSON), bindparam("now", type_=DateTime(timezone=True))
            )
            connection.execute(stamped, {**values, "reasons": [], "now": utcnow()})
            connection.execute(text(LOANS), values)
            connection.execute(text(POSITIONS), values)
            connection.execute(text(INSTALMENTS), values)
            connection.commit()
        if connection.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("loans_application", "loans_loan"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # noqa: S608
                )
        metadata.drop_all(connection)
        connection.commit()
    expected = Expected(loans=count)
    for number, template in enumerate(templates):
        loans = len(range(number, count, TEMPLATES))
        if template.disbursed_on > day:
            continue
        expected.interest += loans * template.interest_today
        expected.penalties += loans * len(template.penalties_today)
        expected.penalty_amount += loans * sum(template.penalties_today)
        expected.buckets[bucket(template.days_past_due_today)] += loans
    return Portfolio(first, first + count - 1, day, expected)
