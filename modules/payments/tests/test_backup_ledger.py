"""A restored backup serves only once its ledger balances: payments' `restore_check` (core/backup.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ....core import backup
from ....core.runtime import Runtime
from ....tests.backups import BACKENDS, change_and_back_up, fresh_stack, rows, seed_everything, wipe
from ..config import PaymentsSettings
from ..cycles import start_disbursement
from ..disbursing import run_worker
from ..models import Entry, LedgerAccount
from ..rails import SimulatedBank
from ..service import restore_problems
from .factories import approved_cycle, assert_paid_exactly_once

pytestmark = pytest.mark.country_independent


@pytest.fixture(params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_country_profile: Path
) -> Iterator[Runtime]:
    with fresh_stack(request.param, tmp_path, monkeypatch, test_country_profile) as runtime:
        yield runtime


def disbursed_cycle(runtime: Runtime) -> int:
    """A cycle of a hundred residents paid through the real pipeline: postings, entries, bank answers."""
    currency = runtime.country.profile.currency
    with runtime.session_factory.begin() as session:
        cycle = approved_cycle(session, runtime.ports, runtime.country, count=100, chunk_size=25)
        start_disbursement(session=session, cycle=cycle, currency=currency, actor="test")
    run_worker(
        session_factory=runtime.session_factory,
        cycle_id=cycle.id,
        currency=currency,
        rail=SimulatedBank(failure_rate=0.1),
        settings=runtime.settings_of(PaymentsSettings),
        worker="test",
    )
    return cycle.id


def test_a_restored_ledger_is_the_one_backed_up_and_pays_nobody_twice(stack: Runtime, tmp_path: Path) -> None:
    seed_everything(stack)
    cycle_id = disbursed_cycle(stack)
    before = rows(stack.engine)
    assert before["payments_entry"], "nothing was posted"
    backup.backup(stack.engine, tmp_path / "ledger.backup")
    wipe(stack.engine)

    restored = backup.restore(stack.engine, tmp_path / "ledger.backup")

    assert rows(stack.engine) == before
    with stack.session_factory() as session:
        assert restore_problems(session) == []
        assert_paid_exactly_once(session, cycle_id)
    assert restored.audit_events == len(before["core_audit_event"])


def first_entry(session: Session) -> tuple[int, int]:
    return session.execute(select(Entry.id, Entry.amount).order_by(Entry.id).limit(1)).one()


def test_a_backup_with_an_unbalanced_posting_is_refused_and_the_live_ledger_kept(
    stack: Runtime, tmp_path: Path
) -> None:
    seed_everything(stack)
    with stack.session_factory() as session:
        entry, amount = first_entry(session)
    target = tmp_path / "unbalanced.backup"
    rewrite = update(Entry).where(Entry.id == entry)
    change_and_back_up(stack.engine, rewrite.values(amount=amount + 1), rewrite.values(amount=amount), target)
    before = rows(stack.engine)

    with pytest.raises(backup.RestoreRefused) as refused:
        backup.restore(stack.engine, target, replace=True)

    assert any(p.startswith("payments: transfer ") and "not 0" in p for p in refused.value.problems), refused.value
    assert rows(stack.engine) == before
    with stack.session_factory() as session:
        assert restore_problems(session) == []


def test_an_entry_on_an_account_of_another_currency_breaks_the_ledger(stack: Runtime) -> None:
    seed_everything(stack)
    with stack.session_factory.begin() as session:
        assert restore_problems(session) == []
        account = session.scalar(select(func.min(Entry.account_id)))
        session.get_one(LedgerAccount, account).currency = "XTS"  # ISO 4217's code for testing

        problems = restore_problems(session)

    assert problems and all("an entry on an account in XTS" in problem for problem in problems), problems
