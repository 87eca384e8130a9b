"""Building a cycle and its envelope: eligibility → instructions in chunks → approved control totals → funded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from ...core import approvals, audit
from ...core.approvals import Signatory, Tally
from ...core.bulk import insert_rows
from ...core.country import LoadedCountry
from ...core.eligibility import INCOME, Rule, resident_attributes
from ...core.errors import Conflict, NotFound, Problem, Unprocessable
from ...core.i18n import _
from ...core.models import utcnow
from ...core.money import Money
from ...core.ports import AssessedIncome, ResidentRegistry, SectorTokens
from ...core.registry import Ports
from .ledger import Posting, post
from .life_events import stopped_among
from .locks import lock_row
from .models import (
    SYSTEM_OWNER,
    AccountLink,
    Chunk,
    ChunkState,
    Cycle,
    CycleState,
    Enrolment,
    Instruction,
    InstructionState,
    LedgerAccount,
    Programme,
    Transfer,
    WrongControlTotals,
)
from .programmes import Entitlement, amount_function, attributes_used
from .schemas import MAX_AMOUNT
from .service import SECTOR, ensure_funding_account, ledger_account

E2E_PREFIX = "G2P-"  # no other transfer may use it (domain.TransferOrder)
BATCH = 1000
APPROVAL_ACTION = "payments.cycle.approve"  # the key of its count in APPROVALS_REQUIRED


def cycle_account_code(cycle_id: int) -> str:
    return f"CYCLE-{cycle_id}"


# ---------------------------------------------------------------- build


def _candidates(
    *, session: Session, ports: Ports, programme: Programme, as_of: date, country: LoadedCountry
) -> Iterator[tuple[list[tuple[str, dict[str, Any]]], set[str] | None]]:
    """Batches of (beneficiary key, attributes), from the enrolled list or the population register.

    Each batch comes with the keys among it that have a linked account, or None when they are to be looked up.
    """
    rules = [Rule.model_validate(r) for r in programme.eligibility]
    used = attributes_used(rules, Entitlement.model_validate(programme.entitlement))
    if programme.source == "enrolled":
        # One pass over the list, the linked account joined in; attributes decoded here, not per ORM row.
        query = (
            select(Enrolment.beneficiary_key, cast(Enrolment.attributes, Text), AccountLink.id.is_not(None))
            .outerjoin(AccountLink, AccountLink.beneficiary_key == Enrolment.beneficiary_key)
            .where(Enrolment.programme_id == programme.id)
            .order_by(Enrolment.id)
        )
        result = session.execute(query.execution_options(yield_per=BATCH))
        for part in result.partitions(BATCH):
            yield [(key, json.loads(raw)) for key, raw, _linked in part], {key for key, _raw, linked in part if linked}
        return
    registry, tokens = ports.get(ResidentRegistry), ports.get(SectorTokens)
    if registry is None or tokens is None:
        raise Unprocessable(
            _(
                "programme {code}: source 'registry' needs the identity module, which this deployment "
                "does not have; use source 'enrolled'"
            ).format(code=programme.code),
            kind="identity-unavailable",
        )
    incomes = ports.get(AssessedIncome) if INCOME in used else None
    if INCOME in used and incomes is None:
        raise Unprocessable(
            _("programme {code}: rules read assessed_income, which needs the tax module").format(code=programme.code),
            kind="tax-unavailable",
        )
    residents = []
    for resident in registry.iter_residents(session=session, batch_size=BATCH):
        residents.append(resident)
        if len(residents) >= BATCH:
            yield _resident_batch(session, tokens, incomes, programme, residents, as_of, country), None
            residents = []
    if residents:
        yield _resident_batch(session, tokens, incomes, programme, residents, as_of, country), None


def _resident_batch(session, tokens, incomes, programme, residents, as_of, country) -> list[tuple[str, dict]]:
    levels = list(country.profile.address_levels or [])
    found = [resident_attributes(r, as_of=as_of, address_levels=levels) for r in residents]
    if incomes is not None:
        assessed = incomes.incomes_for(
            session=session, national_ids=[r.national_id for r in residents], year=programme.income_year
        )
        for resident, attributes in zip(residents, found, strict=True):
            money = assessed.get(resident.national_id)
            if money is not None and money.currency == programme.currency:
                attributes[INCOME] = money.amount
    return [
        (f"token:{tokens.token_for(session=session, national_id=r.national_id, sector=SECTOR)}", attributes)
        for r, attributes in zip(residents, found, strict=True)
    ]


INSTRUCTION_COLUMNS = ("cycle_id", "chunk_id", "beneficiary_key", "end_to_end_id", "amount", "state", "attempts")


def build_cycle(
    *,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    programme: Programme,
    name: str,
    as_of: date,
    funding_account: str,
    chunk_size: int,
    maker: Signatory,
    progress: Callable[[int], None] | None = None,
) -> Cycle:
    """Apply the programme's rules to every candidate and write the cycle's instructions, in one transaction.

    The maker is recorded: four-eyes refuses them as an approver of the cycle.
    """
    rules = [Rule.model_validate(r) for r in programme.eligibility]
    entitlement = Entitlement.model_validate(programme.entitlement)
    cycle = Cycle(
        programme_id=programme.id,
        name=name,
        state=CycleState.BUILT,
        as_of=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC),
        instruction_count=0,
        instruction_sum=0,
        unlinked_count=0,
        funding_account=funding_account,
        made_by=maker.person,
        made_by_actor=maker.actor,
    )
    session.add(cycle)
    session.flush()
    amount_of = amount_function(rules, entitlement)
    chunk_id, in_chunk, number, seq = None, chunk_size, -1, 0
    count = total = unlinked_count = 0
    connection = session.connection()
    prefix = f"{E2E_PREFIX}{cycle.id}-"
    pending, unlinked = InstructionState.PENDING.value, InstructionState.UNLINKED.value
    candidates = _candidates(session=session, ports=ports, programme=programme, as_of=as_of, country=country)
    for batch, linked in candidates:
        if linked is None:
            keys = [key for key, _attributes in batch]
            linked = set(
                session.scalars(select(AccountLink.beneficiary_key).where(AccountLink.beneficiary_key.in_(keys)))
            )
        stopped = stopped_among(session, [key for key, _attributes in batch])  # deaths reported: no payout
        rows = []
        for key, attributes in batch:
            if key in stopped:
                continue
            amount = amount_of(attributes)
            if amount <= 0:
                continue
            seq += 1
            if key not in linked:
                rows.append((cycle.id, None, key, f"{prefix}{seq}", amount, unlinked, 0))
                unlinked_count += 1
                continue
            if in_chunk >= chunk_size:
                number += 1
                chunk = Chunk(cycle_id=cycle.id, number=number, state=ChunkState.PENDING, rounds=0)
                session.add(chunk)
                session.flush()
                chunk_id, in_chunk = chunk.id, 0
            in_chunk += 1
            rows.append((cycle.id, chunk_id, key, f"{prefix}{seq}", amount, pending, 0))
            count += 1
            total += amount
            if total > MAX_AMOUNT:  # before anything reaches the database: a BIGINT would overflow further on
                raise Unprocessable(
                    _(
                        "cycle {name}: the payments' total is too large: more than {limit} minor units, the most "
                        "one cycle may pay; split the beneficiaries over several programmes or cycles"
                    ).format(name=name, limit=MAX_AMOUNT),
                    kind="amount-too-large",
                )
        # Plain tuples through the driver's bulk path (COPY on PostgreSQL): no per-row ORM or SQL work.
        insert_rows(connection, Instruction.__table__, INSTRUCTION_COLUMNS, rows)
        if progress:
            progress(len(batch))
    cycle.instruction_count, cycle.instruction_sum, cycle.unlinked_count = count, total, unlinked_count
    session.flush()
    audit.record(
        session=session,
        actor=maker.actor,
        action="payments.cycle.built",
        subject=f"programme:{programme.code}",
        detail={"cycle": cycle.id, "name": name, "count": cycle.instruction_count, "sum": total},
    )
    return cycle


def get_cycle(*, session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(_("no cycle {cycle}").format(cycle=cycle_id), field="cycle_id")
    return cycle


# ---------------------------------------------------------------- envelope


def instruction_totals(*, session: Session, cycle_id: int) -> tuple[int, int]:
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Instruction.amount), 0)).where(
            Instruction.cycle_id == cycle_id, Instruction.state != InstructionState.UNLINKED
        )
    ).one()
    return int(count), int(total)


def cycle_subject(cycle: Cycle) -> str:
    return f"cycle:{cycle.id}"


def envelope_fingerprint(*, session: Session, cycle: Cycle) -> str:
    """SHA-256 of what the approvers approve: the funding account and each instruction's reference, payee,
    amount and whether it is in the envelope (linked), read from the rows themselves.

    Read from the rows rather than a version counter, so that every change voids the approvals,
    whichever path made it (a rebuild, a future edit route, an SQL statement): one that keeps the
    count and the sum (a payment redirected to another beneficiary) too. The disbursement state of an
    instruction is not in it: paying a cycle does not change what was approved.
    """
    digest = hashlib.sha256(f"{cycle.id}\t{cycle.funding_account}\n".encode())
    rows = session.execute(
        select(
            Instruction.end_to_end_id,
            Instruction.beneficiary_key,
            Instruction.amount,
            Instruction.state == InstructionState.UNLINKED,
        )
        .where(Instruction.cycle_id == cycle.id)
        .order_by(Instruction.id)
        .execution_options(yield_per=BATCH)
    )
    for reference, key, amount, unlinked in rows:
        digest.update(f"{reference}\t{key}\t{amount}\t{int(unlinked)}\n".encode())
    return digest.hexdigest()


def cycle_tally(*, session: Session, cycle: Cycle, required: int) -> Tally:
    """The live approvals of the cycle's instructions as they are now, and how many it needs."""
    fingerprint = envelope_fingerprint(session=session, cycle=cycle)
    count = approvals.tally_of(
        session=session, action=APPROVAL_ACTION, subject=cycle_subject(cycle), fingerprint=fingerprint
    )
    return Tally(count, required)


class CountedRefusal(Problem):
    """Control totals refused in a way that is counted and audited: the caller commits before answering."""


def approve_cycle(
    *,
    session: Session,
    cycle: Cycle,
    control_count: int,
    control_sum: int,
    approver: Signatory,
    required: int,
    max_wrong_totals: int | None = None,
) -> Tally:
    """One approver's approval of the envelope, the control totals re-entered blind; approved at `required`.

    The maker is refused, and so is a person who already approved these instructions; an approval
    given to other instructions (changed since) is voided. The cycle's row is locked first, so
    concurrent approvals queue and exactly one of them approves the cycle. On a cycle approved
    already, the same totals are a replay (nothing recorded), others a conflict.

    With `max_wrong_totals`, a person who entered wrong totals that many times for this cycle is
    refused from then on, right totals included (`CountedRefusal`): the totals cannot be guessed.
    """
    lock_cycle(session=session, cycle=cycle)
    subject = cycle_subject(cycle)
    approvals.check_not_maker(subject=subject, maker=cycle.made_by, approver=approver)
    if _approved_already(cycle, control_count, control_sum):
        return cycle_tally(session=session, cycle=cycle, required=required)
    if max_wrong_totals is None:
        _check_control_totals(session, cycle, control_count, control_sum)
    else:
        _check_guess(session, cycle, (control_count, control_sum), approver, max_wrong_totals)
    fingerprint = envelope_fingerprint(session=session, cycle=cycle)
    tally = approvals.approve(
        session=session,
        action=APPROVAL_ACTION,
        subject=subject,
        fingerprint=fingerprint,
        maker=cycle.made_by,
        approver=approver,
        required=required,
    )
    if tally.reached:
        _seal_envelope(session, cycle, (control_count, control_sum), fingerprint, approver.actor)
    return tally


def approve_without_four_eyes(
    *, session: Session, cycle: Cycle, control_count: int, control_sum: int, actor: str
) -> bool:
    """Approve the envelope with no approvers: the benchmark's alone (`payments bench`, a cycle of synthetic
    beneficiaries on a scratch database it removes afterwards). False on a replay.

    Never reachable from the API, and no other command calls it: every cycle that pays people, the stimulus's
    included, is approved through `approve_cycle` by people other than its maker.
    """
    if _approved_already(cycle, control_count, control_sum):
        return False
    _check_control_totals(session, cycle, control_count, control_sum)
    fingerprint = envelope_fingerprint(session=session, cycle=cycle)
    _seal_envelope(session, cycle, (control_count, control_sum), fingerprint, actor)
    return True


def _approved_already(cycle: Cycle, control_count: int, control_sum: int) -> bool:
    """True when the cycle was approved with these totals (a replay); a conflict when with others."""
    if cycle.state == CycleState.BUILT:
        return False
    if (cycle.control_count, cycle.control_sum) == (control_count, control_sum):
        return True
    raise Conflict(
        _("cycle {cycle} is {state} with control totals {count} / {sum}").format(
            cycle=cycle.id, state=cycle.state, count=cycle.control_count, sum=cycle.control_sum
        ),
        state=cycle.state,
    )


def _check_control_totals(session: Session, cycle: Cycle, control_count: int, control_sum: int) -> None:
    if instruction_totals(session=session, cycle_id=cycle.id) != (control_count, control_sum):
        raise _totals_mismatch(control_count, control_sum, Problem)


def _totals_mismatch(control_count: int, control_sum: int, problem: type[Problem], **extensions: Any) -> Problem:
    # The real totals are not told: the approver re-enters them blind.
    return problem(
        _(
            "control totals do not match the instructions: the envelope says {control_count} payments "
            "summing {control_sum}; count them again from the approved source"
        ).format(control_count=control_count, control_sum=control_sum),
        kind="envelope-mismatch",
        status=409,
        **extensions,
    )


def _check_guess(
    session: Session, cycle: Cycle, totals: tuple[int, int], approver: Signatory, max_wrong_totals: int
) -> None:
    """Refuse a person out of attempts, whatever they entered; count and refuse wrong totals."""
    wrong = session.scalars(
        select(WrongControlTotals).where(
            WrongControlTotals.cycle_id == cycle.id, WrongControlTotals.person == approver.person
        )
    ).one_or_none()
    attempts = wrong.attempts if wrong else 0
    if attempts >= max_wrong_totals:
        _audit_totals(session, cycle, approver, "payments.cycle.control-totals-refused", attempts)
        raise CountedRefusal(
            _(
                "too many wrong control totals: you entered wrong totals for cycle {cycle} {attempts} times and "
                "may no longer approve it; another approver may"
            ).format(cycle=cycle.id, attempts=attempts),
            kind="too-many-wrong-control-totals",
            status=403,
        )
    if instruction_totals(session=session, cycle_id=cycle.id) == totals:
        return
    if wrong is None:
        wrong = WrongControlTotals(cycle_id=cycle.id, person=approver.person, attempts=0)
        session.add(wrong)
    wrong.attempts, wrong.last_at = attempts + 1, utcnow()
    _audit_totals(session, cycle, approver, "payments.cycle.control-totals-wrong", wrong.attempts)
    raise _totals_mismatch(*totals, CountedRefusal, attempts_left=max_wrong_totals - wrong.attempts)


def wrong_totals_left(*, session: Session, cycle: Cycle, person: str, max_wrong_totals: int) -> int:
    """How many more wrong control totals `person` may enter for the cycle before they may no longer approve it."""
    attempts = session.scalar(
        select(WrongControlTotals.attempts).where(
            WrongControlTotals.cycle_id == cycle.id, WrongControlTotals.person == person
        )
    )
    return max(max_wrong_totals - (attempts or 0), 0)


def _audit_totals(session: Session, cycle: Cycle, approver: Signatory, action: str, attempts: int) -> None:
    detail = {"person": approver.person, "role": approver.role, "wrong_attempts": attempts}
    audit.record(session=session, actor=approver.actor, action=action, subject=cycle_subject(cycle), detail=detail)


def _seal_envelope(session: Session, cycle: Cycle, totals: tuple[int, int], fingerprint: str, actor: str) -> None:
    (control_count, control_sum), cycle.approved_fingerprint = totals, fingerprint
    cycle.control_count, cycle.control_sum = control_count, control_sum
    cycle.state, cycle.approved_by, cycle.approved_at = CycleState.APPROVED, actor, utcnow()
    audit.record(
        session=session,
        actor=actor,
        action="payments.cycle.approved",
        subject=cycle_subject(cycle),
        detail={"count": control_count, "sum": control_sum},
    )


def require_approved(cycle: Cycle) -> None:
    """Refuse a cycle awaiting its approvals: nothing to pay or reconcile; its totals are the approvers' to count."""
    if cycle.state == CycleState.BUILT:
        raise Conflict(
            _("cycle {cycle} is not approved: approve its envelope (control totals) first").format(cycle=cycle.id)
        )


def start_disbursement(*, session: Session, cycle: Cycle, currency: str, actor: str) -> None:
    """Check the envelope again, block its funds in the cycle's own account, mark the cycle disbursing.

    Idempotent, and safe to run concurrently (two `disburse` commands, six API calls at once): the cycle's
    row is locked first, so concurrent starts queue; each then reads the cycle again and only the first
    funds it (the funding transfer's reference is fixed per cycle).
    """
    lock_cycle(session=session, cycle=cycle)
    require_approved(cycle)
    approved = cycle.approved_fingerprint
    if approved is not None and approved != envelope_fingerprint(session=session, cycle=cycle):
        raise Problem(
            _(
                "refusing to disburse cycle {cycle}: its instructions changed after it was approved, which voids "
                "the approvals"
            ).format(cycle=cycle.id),
            kind="changed-since-approved",
            status=409,
        )
    count, total = instruction_totals(session=session, cycle_id=cycle.id)
    if (count, total) != (cycle.control_count, cycle.control_sum):
        raise Problem(
            _(
                "refusing to disburse cycle {cycle}: the envelope approved {control_count} payments summing "
                "{control_sum}, but the instructions are {count} summing {sum}"
            ).format(
                cycle=cycle.id,
                control_count=cycle.control_count,
                control_sum=cycle.control_sum,
                count=count,
                sum=total,
            ),
            kind="envelope-mismatch",
            status=409,
        )
    reference = f"{E2E_PREFIX}{cycle.id}-FUND"
    if session.scalar(select(Transfer.id).where(Transfer.client_reference == reference)) is None:
        payer = ensure_funding_account(session=session, code=cycle.funding_account, currency=currency)
        payee = _cycle_account(session, cycle.id, currency)
        funding = Posting(reference, f"cycle:{cycle.id}", payer.id, payee.id, Money(currency, total), "cycle-funding")
        post(session, funding)
        audit.record(
            session=session,
            actor=actor,
            action="payments.cycle.funded",
            subject=f"cycle:{cycle.id}",
            detail={"from": payer.code, "amount": total, "currency": currency},
        )
    if cycle.state == CycleState.APPROVED:
        cycle.state = CycleState.DISBURSING
    session.flush()


def _cycle_account(session: Session, cycle_id: int, currency: str) -> LedgerAccount:
    return ledger_account(
        session=session, code=cycle_account_code(cycle_id), owner=SYSTEM_OWNER, allow_negative=False, currency=currency
    )


def lock_cycle(*, session: Session, cycle: Cycle) -> None:
    """Hold the cycle's row until the transaction ends, then read it again (another start may have moved it)."""
    lock_row(session=session, row=cycle)
