from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.registry import SeedContext
from ....core.runtime import Runtime
from ..models import Assessment, Taxpayer
from ..seed import DEMO_TAXPAYERS, seed


def test_seed_registers_demo_taxpayers_and_files_a_return_each(session: Session, runtime: Runtime) -> None:
    context = SeedContext(session=session, runtime=runtime)
    lines = seed(context)
    assert len(lines) == len(DEMO_TAXPAYERS)
    assert all(line.startswith("tax: TIN ") and "tax due" in line for line in lines)
    assert session.scalar(select(func.count()).select_from(Taxpayer)) == len(DEMO_TAXPAYERS)
    assert session.scalar(select(func.count()).select_from(Assessment)) == len(DEMO_TAXPAYERS)
    # Seeding again reuses the demo taxpayers and files nothing twice.
    assert seed(context) == []
    assert session.scalar(select(func.count()).select_from(Taxpayer)) == len(DEMO_TAXPAYERS)
