"""National batches: assess every filed, unassessed return of a year in chunks; export assessed incomes.

Each chunk is one transaction: select the next returns without an assessment
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers can share a year),
compute with the cached integer law, and write assessments and account entries
with one multi-row insert each. A crash loses at most the chunk in flight;
running again continues where it stopped, and nothing is assessed twice
(`tax_assessment.return_id` is unique).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from ...core import audit
from ...core.bulk import driver_value, dump_json, insert_rows
from ...core.country import LoadedCountry
from ...core.errors import Problem
from ...core.models import utcnow
from ...core.money import Money
from ...core.ports import SectorTokens
from ...core.runtime import Runtime
from . import service
from .fast import YearLaw
from .models import AccountEntry, Assessment, AssessmentState, EntryKind, ReturnKind, Taxpayer, TaxReturn
from .rules import TaxRules

DEFAULT_CHUNK = 5000


@dataclass
class BulkResult:
    assessed: int = 0
    chunks: int = 0
    tax_due: int = 0


def pending_count(*, session: Session, year: int) -> int:
    return session.scalar(select(func.count()).select_from(TaxReturn).where(*_pending(year))) or 0


def _pending(year: int) -> tuple:
    return (
        TaxReturn.kind == ReturnKind.INCOME,
        TaxReturn.period == str(year),
        ~exists().where(Assessment.return_id == TaxReturn.id),
    )


def assess_all(
    *,
    session_factory: sessionmaker[Session],
    country: LoadedCountry,
    year: int,
    actor: str,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> BulkResult:
    """Assess every filed income-tax return of `year` that has no assessment yet, chunk by chunk."""
    rules = service.rules_for(country)
    year_law = YearLaw.of(rules.income, year)  # LawNotInForce before any work
    deadline = rules.income_deadline(year)
    today = today or date.today()
    result = BulkResult()
    after = 0  # keyset: each chunk starts past the last return seen, so no chunk rescans assessed ones
    columns = (TaxReturn.id, TaxReturn.tin, TaxReturn.income, TaxReturn.version, TaxReturn.filed_on)
    while True:
        with session_factory.begin() as session:
            query = select(*columns).where(*_pending(year), TaxReturn.id > after)
            query = query.order_by(TaxReturn.id).limit(chunk_size)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=TaxReturn)
            rows = session.execute(query).all()
            if not rows:
                return result
            after = rows[-1][0]
            assessed, total = _assess_chunk(session, rows, rules, year_law, deadline, today, actor)
            result.assessed += assessed
            result.tax_due += total
            result.chunks += 1
        if progress is not None:
            progress(len(rows))


ASSESSMENT_COLUMNS = (
    "return_id",
    "tin",
    "year",
    "kind",
    "period",
    "taxable",
    "tax_due",
    "penalty",
    "due_on",
    "currency",
    "state",
    "trace",
    "assessed_at",
)
ENTRY_COLUMNS = ("tin", "kind", "amount", "currency", "reference", "assessment_id", "state", "booked_on", "created_at")


def _assess_chunk(
    session: Session, rows: Sequence, rules: TaxRules, year_law: YearLaw, deadline: date, today: date, actor: str
) -> tuple[int, int]:
    connection = session.connection()
    assessments_table, entries_table = Assessment.__table__, AccountEntry.__table__
    now = utcnow()
    assessed_at = driver_value(connection, assessments_table.c.assessed_at, now)
    due_on = driver_value(connection, assessments_table.c.due_on, deadline)
    write_trace = year_law.trace_writer()
    year, period, currency = year_law.year, str(year_law.year), rules.currency
    kind, state = ReturnKind.INCOME.value, AssessmentState.CURRENT.value
    assessments = []
    charges = []  # (return_id, tin, tax due, penalty) of each assessment, for the account entries
    later_versions = []
    for return_id, tin, income, version, filed_on in rows:
        if version > 1:
            later_versions.append(return_id)  # an amendment supersedes: the one-by-one path does that
            continue
        taxable, tax_due, exact = year_law.calculate(income)
        penalty = 0
        if filed_on is not None and filed_on > deadline and rules.late_filing:
            late = rules.late_filing_penalty(tax=tax_due, filed_on=filed_on, deadline=deadline)
            penalty = late.amount
            trace = year_law.trace(income, taxable, tax_due, exact)
            trace.extend(step.as_dict() for step in late.trace)
            trace_text = dump_json(trace)
        else:
            trace_text = write_trace(income, taxable, tax_due, exact)
        assessments.append(
            (
                return_id,
                tin,
                year,
                kind,
                period,
                taxable,
                tax_due,
                penalty,
                due_on,
                currency,
                state,
                trace_text,
                assessed_at,
            )
        )
        charges.append((return_id, tin, tax_due, penalty))
    total = 0
    if assessments:
        insert_rows(connection, assessments_table, ASSESSMENT_COLUMNS, assessments)
        first, last = assessments[0][0], assessments[-1][0]
        ids = dict(
            connection.execute(
                select(Assessment.return_id, Assessment.id).where(Assessment.return_id.between(first, last))
            ).all()
        )
        booked_on = driver_value(connection, entries_table.c.booked_on, today)
        created_at = driver_value(connection, entries_table.c.created_at, now)
        entries = []
        for return_id, tin, tax_due, penalty in charges:
            assessment_id = ids[return_id]
            total += tax_due
            entries.append(_entry(assessment_id, tin, EntryKind.ASSESSED, tax_due, currency, booked_on, created_at))
            if penalty:
                entries.append(_entry(assessment_id, tin, EntryKind.PENALTY, penalty, currency, booked_on, created_at))
        insert_rows(connection, entries_table, ENTRY_COLUMNS, entries)
    for return_id in later_versions:
        tax_return = session.get(TaxReturn, return_id)
        assert tax_return is not None
        total += service.assess(session=session, tax_return=tax_return, rules=rules, actor=actor, today=today).tax_due
    audit.record(
        session=session,
        actor=actor,
        action="tax.assessment.bulk",
        subject=f"tax-year:{year_law.year}",
        detail={"returns": len(rows), "first_return_id": rows[0][0], "last_return_id": rows[-1][0], "tax_due": total},
    )
    return len(rows), total


def _entry(
    assessment_id: int, tin: str, kind: EntryKind, amount: int, currency: str, booked_on: object, created_at: object
) -> tuple:
    reference = f"assessment:{assessment_id}:{kind.value}"
    return (tin, kind.value, amount, currency, reference, assessment_id, "committed", booked_on, created_at)


def load_returns(
    *, session: Session, country: LoadedCountry, year: int, rows: Sequence[tuple[str, int]], actor: str
) -> int:
    """Store filed returns (TIN, income) for `year` without assessing them (`assess-all` does); one insert."""
    rules = service.rules_for(country)
    filed_on = date.today()
    session.connection().execute(
        TaxReturn.__table__.insert(),
        [
            {
                "tin": tin,
                "year": year,
                "kind": ReturnKind.INCOME.value,
                "period": str(year),
                "version": 1,
                "income": income,
                "currency": rules.currency,
                "filed_on": filed_on,
                "filed_by": actor,
            }
            for tin, income in rows
        ],
    )
    return len(rows)


# Assessed income for means-tested programmes ----------------------------------------------


def assessed_incomes(*, session: Session, year: int, references: Sequence[str]) -> dict[str, tuple[int, str]]:
    """reference (token:… or external:…) -> (income, currency) of its current income-tax assessment for `year`."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(references), 900):  # stay under SQLite's bound-parameter limit
        batch = references[start : start + 900]
        query = (
            select(Taxpayer.reference, TaxReturn.income, Assessment.currency)
            .join(Assessment, Assessment.tin == Taxpayer.tin)
            .join(TaxReturn, TaxReturn.id == Assessment.return_id)
            .where(
                Taxpayer.reference.in_(batch),
                Assessment.kind == ReturnKind.INCOME,
                Assessment.period == str(year),
                Assessment.state == AssessmentState.CURRENT,
            )
        )
        for reference, income, currency in session.execute(query):
            found[reference] = (income, currency)
    return found


def iter_assessed(*, session: Session, year: int, batch_size: int = 5000) -> Iterator[tuple]:
    """(tin, reference, income, taxable, tax_due, currency, assessment_id) of every current assessment of `year`."""
    query = (
        select(
            Assessment.tin,
            Taxpayer.reference,
            TaxReturn.income,
            Assessment.taxable,
            Assessment.tax_due,
            Assessment.currency,
            Assessment.id,
        )
        .join(TaxReturn, TaxReturn.id == Assessment.return_id)
        .join(Taxpayer, Taxpayer.tin == Assessment.tin, isouter=True)
        .where(
            Assessment.kind == ReturnKind.INCOME,
            Assessment.period == str(year),
            Assessment.state == AssessmentState.CURRENT,
        )
        .order_by(Assessment.id)
        .execution_options(yield_per=batch_size)
    )
    yield from session.execute(query)


class TaxAssessedIncome:
    """Provides core.ports.AssessedIncome: the assessed income of each national ID for a year.

    With identity installed, each national ID becomes the tax sector token the register
    holds; without it, the national ID is looked up as an external ID (a taxpayer
    registered with their number in an existing national register).
    """

    def __init__(self, *, tokens: SectorTokens | None) -> None:
        self._tokens = tokens

    @classmethod
    def of(cls, runtime: Runtime) -> TaxAssessedIncome:
        """The provider of this runtime: national IDs become sector tokens where a module provides them."""
        return cls(tokens=runtime.ports.get(SectorTokens))

    def incomes_for(self, *, session: Session, national_ids: Sequence[str], year: int) -> Mapping[str, Money]:
        tokens = self._tokens
        by_reference: dict[str, str] = {}
        for national_id in national_ids:
            if tokens is None:
                by_reference[f"external:{national_id}"] = national_id
                continue
            try:
                token = tokens.token_for(session=session, national_id=national_id, sector=service.SECTOR)
            except Problem:
                continue  # unknown or inactive person: no assessed income to report
            by_reference[f"token:{token}"] = national_id
        incomes = assessed_incomes(session=session, year=year, references=list(by_reference))
        return {by_reference[ref]: Money(currency, income) for ref, (income, currency) in incomes.items()}
