"""A cycle's reconciliation: the envelope, the instructions by state, the bank's unmatched lines, the cycle account."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...core.pages import Page, PageRequest, fetch
from .cycles import cycle_account_code, get_cycle
from .models import (
    BankMessage,
    Entry,
    Instruction,
    InstructionState,
    LedgerAccount,
    Programme,
)

_IN_FLIGHT = (InstructionState.PENDING, InstructionState.COMMITTED, InstructionState.SENT, InstructionState.ACCEPTED)


class Outcome(StrEnum):
    """Where a cycle's payments ended, as the reconciliation counts them."""

    PAID = "paid"
    FAILED = "failed"  # returned for good: the money is back in the cycle's account
    PENDING = "pending"
    UNLINKED = "unlinked"  # no account linked when the cycle was built: not in the envelope

    @property
    def states(self) -> tuple[str, ...]:
        return {
            Outcome.PAID: (InstructionState.SETTLED,),
            Outcome.FAILED: (InstructionState.RETURNED,),
            Outcome.PENDING: _IN_FLIGHT,
            Outcome.UNLINKED: (InstructionState.UNLINKED,),
        }[self]


def instructions(*, session: Session, cycle_id: int, outcome: Outcome, page: PageRequest) -> Page[Instruction]:
    """The cycle's instructions with this outcome, a page at a time in the order they were built."""
    query = select(Instruction).where(Instruction.cycle_id == cycle_id, Instruction.state.in_(outcome.states))
    return fetch(session, query, Instruction.id, page)


# ---------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class Tally:
    count: int = 0
    sum: int = 0


@dataclass(frozen=True)
class Reconciliation:
    cycle_id: int
    programme: str
    cycle: str
    state: str
    currency: str
    envelope: Tally
    instructions: Tally
    paid: Tally
    failed: Tally
    pending: Tally
    unlinked: Tally
    unmatched: Tally
    returned_to_programme: int  # what the cycle's ledger account holds
    not_yet_in_ledger: int  # instructions still pending: their funds wait in the cycle account too
    funded: bool
    messages: dict[str, int]

    @property
    def matches_control_totals(self) -> bool:
        accounted = Tally(
            self.paid.count + self.failed.count + self.pending.count, self.paid.sum + self.failed.sum + self.pending.sum
        )
        held = self.not_yet_in_ledger + self.failed.sum if self.funded else 0
        return self.instructions == self.envelope == accounted and self.returned_to_programme == held


def reconcile(*, session: Session, cycle_id: int) -> Reconciliation:
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    programme = session.get(Programme, cycle.programme_id)
    by_state = {
        state: Tally(int(count), int(total or 0))
        for state, count, total in session.execute(
            select(Instruction.state, func.count(), func.sum(Instruction.amount))
            .where(Instruction.cycle_id == cycle_id)
            .group_by(Instruction.state)
        )
    }

    def tally(*states: str) -> Tally:
        parts = [by_state.get(s, Tally()) for s in states]
        return Tally(sum(p.count for p in parts), sum(p.sum for p in parts))

    unmatched = session.execute(
        select(
            func.coalesce(func.sum(BankMessage.unmatched), 0), func.coalesce(func.sum(BankMessage.unmatched_sum), 0)
        ).where(BankMessage.cycle_id == cycle_id)
    ).one()
    messages = dict(
        session.execute(
            select(BankMessage.kind, func.count()).where(BankMessage.cycle_id == cycle_id).group_by(BankMessage.kind)
        ).all()
    )
    account = session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == cycle_account_code(cycle_id)))
    held = 0
    if account is not None:
        held = int(session.scalar(select(func.coalesce(func.sum(Entry.amount), 0)).where(Entry.account_id == account)))
    return Reconciliation(
        cycle_id=cycle.id,
        programme=programme.code,
        cycle=cycle.name,
        state=cycle.state,
        currency=programme.currency,
        envelope=Tally(cycle.control_count or 0, cycle.control_sum or 0),
        instructions=tally(*_IN_FLIGHT, InstructionState.SETTLED, InstructionState.RETURNED),
        paid=tally(*Outcome.PAID.states),
        failed=tally(*Outcome.FAILED.states),
        pending=tally(*Outcome.PENDING.states),
        unlinked=tally(*Outcome.UNLINKED.states),
        unmatched=Tally(int(unmatched[0]), int(unmatched[1])),
        returned_to_programme=held,
        not_yet_in_ledger=tally(InstructionState.PENDING).sum,
        funded=account is not None,
        messages={str(k): int(v) for k, v in messages.items()},
    )
