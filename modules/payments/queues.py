"""The approvers' queue: cycles awaiting approval (or in any one state), oldest first.

The items carry no instruction totals: an approver re-enters the control count and sum blind.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.pages import Page, PageRequest, fetch
from .models import Cycle, CycleState, Programme


@dataclass(frozen=True)
class QueuedCycle:
    cycle: Cycle
    programme: str  # its code


def cycles(
    *, session: Session, page: PageRequest, state: CycleState = CycleState.BUILT, programme: str | None = None
) -> Page[QueuedCycle]:
    query = select(Cycle).where(Cycle.state == state)
    if programme is not None:
        query = query.join(Programme, Programme.id == Cycle.programme_id).where(Programme.code == programme)
    listed = fetch(session, query, Cycle.id, page)
    wanted = {cycle.programme_id for cycle in listed.items}
    codes = {
        programme_id: code
        for programme_id, code in session.execute(select(Programme.id, Programme.code).where(Programme.id.in_(wanted)))
    }
    return listed.map(lambda cycle: QueuedCycle(cycle=cycle, programme=codes[cycle.programme_id]))
