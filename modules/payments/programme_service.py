"""Programmes, enrolments, cycles and the resident's view of what was paid: keyword-only, flush but never commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.approvals import Signatory
from ...core.country import LoadedCountry
from ...core.eligibility import INCOME
from ...core.errors import Conflict, NotFound, Unprocessable
from ...core.i18n import _
from ...core.ports import AssessedIncome, ResidentRegistry
from ...core.registry import Ports
from . import cycles
from .domain import Beneficiary, Enrollee, ProgrammeRules, ProgrammeTerms
from .ledger import check_currency
from .models import Cycle, Enrolment, Instruction, LedgerAccount, Programme, Transfer
from .programmes import attributes_used
from .schemas import PROGRAMME_CODE_PATTERN
from .service import beneficiary_key


@dataclass(frozen=True)
class Created:
    record: Any
    created: bool


def create_programme(
    *, session: Session, ports: Ports, country: LoadedCountry, terms: ProgrammeTerms, actor: str
) -> Created:
    """Register a programme; the same terms again are a replay, other terms under its code a conflict."""
    check_currency(terms.currency, country.profile.currency)
    check_rules(ports=ports, rules=terms.rules)
    if terms.source == "registry" and ports.get(ResidentRegistry) is None:
        raise Unprocessable(
            _("'registry' needs the identity module, which this deployment does not have; use 'enrolled'"),
            kind="identity-unavailable",
            field="source",
        )
    body, digest = terms.canonical(), terms.digest()
    existing = session.scalar(select(Programme).where(Programme.code == terms.code))
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict(
                _("programme '{code}' already exists with different rules").format(code=terms.code), field="code"
            )
        return Created(existing, False)
    programme = Programme(
        code=terms.code,
        name=terms.name,
        currency=terms.currency,
        source=terms.source,
        eligibility=body["eligibility"],
        entitlement=body["entitlement"],
        income_year=terms.income_year,
        request_hash=digest,
        created_by=actor,
    )
    session.add(programme)
    session.flush()
    audit.record(session=session, actor=actor, action="payments.programme.created", subject=f"programme:{terms.code}")
    return Created(programme, True)


def check_rules(*, ports: Ports, rules: ProgrammeRules) -> None:
    """What a programme's rules need beyond their own shape, whether registered with it or proposed as a change."""
    used = attributes_used(list(rules.eligibility), rules.entitlement)
    if INCOME in used and rules.income_year is None:
        raise Unprocessable(
            _("rules that read assessed_income need the fiscal year to read it for"), field="income_year"
        )
    if INCOME in used and ports.get(AssessedIncome) is None:
        raise Unprocessable(
            _("assessed_income needs the tax module, which this deployment does not have"),
            kind="tax-unavailable",
            field="eligibility",
        )


def get_programme(*, session: Session, code: str) -> Programme:
    """The programme `code`; a code no programme can have (a control character...) is never sent to the database."""
    found = re.fullmatch(PROGRAMME_CODE_PATTERN, code)
    programme = session.scalar(select(Programme).where(Programme.code == code)) if found else None
    if programme is None:
        raise NotFound(_("no programme '{code}'").format(code=code), field="code")
    return programme


@dataclass(frozen=True)
class EnrolmentCounts:
    enrolled: int
    updated: int
    unchanged: int


def enrol(*, session: Session, ports: Ports, programme: Programme, items: list[Enrollee]) -> EnrolmentCounts:
    """Add beneficiaries (by external ID, or national ID when identity is present) to an enrolled programme."""
    if programme.source != "enrolled":
        raise Conflict(
            _("programme {code} reads the population register; it takes no enrolments").format(code=programme.code)
        )
    keyed = [(beneficiary_key(session=session, ports=ports, beneficiary=item.beneficiary), item) for item in items]
    if len({key for key, _item in keyed}) != len(keyed):
        raise Unprocessable(_("a beneficiary appears twice in this request"), field="items")
    existing = {
        e.beneficiary_key: e
        for e in session.scalars(
            select(Enrolment).where(
                Enrolment.programme_id == programme.id, Enrolment.beneficiary_key.in_([k for k, _item in keyed])
            )
        )
    }
    enrolled = updated = unchanged = 0
    for key, item in keyed:
        found = existing.get(key)
        if found is None:
            session.add(Enrolment(programme_id=programme.id, beneficiary_key=key, attributes=dict(item.attributes)))
            enrolled += 1
        elif found.attributes != item.attributes:
            found.attributes = dict(item.attributes)
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return EnrolmentCounts(enrolled, updated, unchanged)


def create_cycle(
    *,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    programme: Programme,
    name: str,
    as_of: date | None,
    funding_account: str,
    chunk_size: int,
    maker: Signatory,
    progress: Any = None,
) -> Created:
    """Build a cycle's instructions (ages counted on `as_of`, today by default); the same name again returns the
    cycle already built."""
    existing = session.scalar(select(Cycle).where(Cycle.programme_id == programme.id, Cycle.name == name))
    if existing is not None:
        return Created(existing, False)
    cycle = cycles.build_cycle(
        session=session,
        ports=ports,
        country=country,
        programme=programme,
        name=name,
        as_of=as_of or date.today(),
        funding_account=funding_account,
        chunk_size=chunk_size,
        maker=maker,
        progress=progress,
    )
    return Created(cycle, True)


@dataclass(frozen=True)
class PaymentLine:
    programme: str
    programme_name: str
    cycle: str | None
    reference: str
    amount: int
    currency: str
    state: str
    reason: str | None
    updated_at: datetime | None


def programmes(*, session: Session) -> list[Programme]:
    """Every programme, by code (a console's choice of programme to build a cycle for)."""
    return list(session.scalars(select(Programme).order_by(Programme.code)))


def payments_to(*, session: Session, ports: Ports, beneficiary: Beneficiary, limit: int = 200) -> list[PaymentLine]:
    """What was paid to a resident: every programme payment and direct transfer, newest first."""
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    rows = session.execute(
        _instructions_with_programme()
        .where(Instruction.beneficiary_key == key)
        .order_by(Instruction.id.desc())
        .limit(limit)
    ).all()
    lines = [_instruction_line(*row) for row in rows]
    direct = session.scalars(_direct_transfers_to(key).order_by(Transfer.id.desc()).limit(limit))
    lines += [_transfer_line(t) for t in direct]
    return lines


def payment_to(*, session: Session, ports: Ports, beneficiary: Beneficiary, reference: str) -> PaymentLine:
    """One payment to the beneficiary by its reference; NotFound when there is none, or it went to someone else."""
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    row = session.execute(
        _instructions_with_programme().where(Instruction.beneficiary_key == key, Instruction.end_to_end_id == reference)
    ).first()
    if row is not None:
        return _instruction_line(*row)
    transfer = session.scalar(_direct_transfers_to(key).where(Transfer.client_reference == reference))
    if transfer is not None:
        return _transfer_line(transfer)
    # The same answer for a reference that exists but paid someone else: its existence is not told.
    raise NotFound(_("no payment '{reference}'").format(reference=reference), field="reference")


def _instructions_with_programme() -> Select[Any]:
    return (
        select(Instruction, Cycle.name, Programme.code, Programme.name, Programme.currency)
        .join(Cycle, Cycle.id == Instruction.cycle_id)
        .join(Programme, Programme.id == Cycle.programme_id)
    )


def _direct_transfers_to(key: str) -> Select[Any]:
    return (
        select(Transfer)
        .join(LedgerAccount, LedgerAccount.id == Transfer.payee_account_id)
        .where(LedgerAccount.code == key, ~Transfer.client_reference.startswith(cycles.E2E_PREFIX))
    )


def _instruction_line(instruction: Instruction, cycle_name: str, code: str, name: str, currency: str) -> PaymentLine:
    return PaymentLine(
        programme=code,
        programme_name=name,
        cycle=cycle_name,
        reference=instruction.end_to_end_id,
        amount=instruction.amount,
        currency=currency,
        state=instruction.state,
        reason=instruction.reason,
        updated_at=instruction.updated_at,
    )


def _transfer_line(transfer: Transfer) -> PaymentLine:
    return PaymentLine(
        programme="transfer",
        programme_name=_("Direct transfer"),
        cycle=None,
        reference=transfer.client_reference,
        amount=transfer.amount,
        currency=transfer.currency,
        state=transfer.state,
        reason=transfer.reason,
        updated_at=transfer.completed_at,
    )
