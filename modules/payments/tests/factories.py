"""Building blocks for disbursement tests: a programme of N enrolled, linked beneficiaries and an approved cycle."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ....core.approvals import Signatory
from ....core.country import LoadedCountry
from ....core.eligibility import Rule
from ....core.models import utcnow
from ....core.registry import Ports
from .. import cycles, programme_service
from ..domain import ProgrammeTerms
from ..models import AccountLink, Cycle, Enrolment, Entry, Instruction, LedgerAccount, Transfer
from ..programmes import Bracket, Entitlement

FLAT = 10_000
MAKER = Signatory(person="staff:1", actor="staff:maker (payments.maker)", role="payments.maker")
CHECKERS = tuple(
    Signatory(person=f"staff:{n}", actor=f"staff:checker{n} (payments.approver)", role="payments.approver")
    for n in (2, 3)
)
SENIOR_BONUS = 5_000
# Six distinct approvers, none the maker, released at once by the concurrency tests.
CONCURRENT_APPROVERS = tuple(
    Signatory(person=f"staff:{n}", actor=f"staff:p{n} (payments.approver)") for n in range(20, 26)
)


def enrolled_programme(
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    *,
    count: int,
    code: str = "TEST-PROG",
    linked: int | None = None,
):
    """An enrolled programme: adults get FLAT, 65+ get SENIOR_BONUS more; minors are enrolled but ineligible."""
    programme = programme_service.create_programme(
        session=session,
        ports=ports,
        country=country,
        terms=ProgrammeTerms(
            code=code,
            name="Test programme",
            currency=country.profile.currency,
            source="enrolled",
            eligibility=(Rule(attribute="age", op=">=", value=18),),
            entitlement=Entitlement(flat=FLAT, brackets=[Bracket(attribute="age", min=65, add=SENIOR_BONUS)]),
        ),
        actor="test",
    ).record
    now = utcnow()
    keys = [f"ext:{code}-{i}" for i in range(count)]
    session.execute(
        insert(Enrolment),
        [
            {"programme_id": programme.id, "beneficiary_key": k, "attributes": {"age": 10 + i % 80}, "enrolled_at": now}
            for i, k in enumerate(keys)
        ],
    )
    session.execute(
        insert(AccountLink),
        [
            {
                "beneficiary_key": k,
                "kind": "bank_account",
                "number": f"{1_000_000_000 + i}",
                "bank_code": "TESTBANK",
                "linked_at": now,
                "updated_at": now,
            }
            for i, k in enumerate(keys[: count if linked is None else linked])
        ],
    )
    session.flush()
    return programme


def expected_amount(index: int) -> int | None:
    age = 10 + index % 80
    if age < 18:
        return None
    return FLAT + (SENIOR_BONUS if age >= 65 else 0)


def built_cycle(
    session: Session, ports: Ports, country: LoadedCountry, *, count: int, chunk_size: int = 100, **kwargs
) -> Cycle:
    """A programme of `count` enrolled residents and its first cycle, built by MAKER, not yet approved."""
    programme = enrolled_programme(session, ports, country, count=count, **kwargs)
    return programme_service.create_cycle(
        session=session,
        ports=ports,
        country=country,
        programme=programme,
        name="1",
        as_of=date(2026, 1, 1),
        funding_account="TREASURY",
        chunk_size=chunk_size,
        maker=MAKER,
    ).record


def approved_cycle(
    session: Session, ports: Ports, country: LoadedCountry, *, count: int, chunk_size: int = 100, **kwargs
) -> Cycle:
    cycle = built_cycle(session, ports, country, count=count, chunk_size=chunk_size, **kwargs)
    approve_by_checkers(session, cycle)
    return cycle


def approve_by_checkers(session: Session, cycle: Cycle) -> None:
    """The two checkers (never the maker) approve the cycle's envelope: four-eyes, as for any cycle."""
    for checker in CHECKERS:
        cycles.approve_cycle(
            session=session,
            cycle=cycle,
            control_count=cycle.instruction_count,
            control_sum=cycle.instruction_sum,
            approver=checker,
            required=len(CHECKERS),
        )


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call in a thread of its own, all released together; each one's answer or exception, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def credits_per_beneficiary(session: Session, cycle_id: int) -> dict[str, list[int]]:
    """Every amount credited to each beneficiary by this cycle's payments (net of returns)."""
    rows = session.execute(
        select(LedgerAccount.code, Entry.amount)
        .join(Entry, Entry.account_id == LedgerAccount.id)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .join(Instruction, Instruction.end_to_end_id == Transfer.client_reference)
        .where(Instruction.cycle_id == cycle_id, Entry.amount > 0)
        .where(LedgerAccount.owner != "system")
    ).all()
    found: dict[str, list[int]] = {}
    for code, amount in rows:
        found.setdefault(code, []).append(int(amount))
    return found


def assert_paid_exactly_once(session: Session, cycle_id: int) -> None:
    """Every instruction decided; each settled one credited once; each returned one credited and reversed once."""
    instructions = session.execute(
        select(Instruction.beneficiary_key, Instruction.amount, Instruction.state).where(
            Instruction.cycle_id == cycle_id, Instruction.state != "unlinked"
        )
    ).all()
    assert instructions, "the cycle has no instructions"
    credits = credits_per_beneficiary(session, cycle_id)
    balances = dict(
        session.execute(
            select(LedgerAccount.code, func.sum(Entry.amount))
            .join(Entry, Entry.account_id == LedgerAccount.id)
            .where(LedgerAccount.owner != "system")
            .group_by(LedgerAccount.code)
        ).all()
    )
    for key, amount, state in instructions:
        assert state in ("settled", "returned"), (key, state)
        if state == "settled":
            assert credits.get(key) == [amount], (key, credits.get(key))
            assert int(balances[key]) == amount, key
        else:
            assert credits.get(key) == [amount], (key, credits.get(key))  # one payment ...
            assert int(balances[key]) == 0, key  # ... reversed once
    paid_keys = {key for key, _, _ in instructions}
    assert set(credits) <= paid_keys, "someone outside the cycle was credited"
