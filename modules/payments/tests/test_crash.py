"""Exactly once under SIGKILL and with several workers: real processes of `payments disburse`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....conftest import PROJECT_ROOT, TEST_SECRET
from ....core.settings import Settings
from .. import reconciliations
from ..models import Chunk, ChunkState, Instruction
from ..service import check_ledger
from .factories import approved_cycle, assert_paid_exactly_once

PACKAGE = __name__.split(".")[0]


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=settings.database_url,
        SECRET_KEY=TEST_SECRET,
        ENVIRONMENT="test",
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT / "src"), env.get("PYTHONPATH")])),
        PAYMENTS_RAIL="simulated",
        PAYMENTS_SIMULATED_FAILURE_RATE="0.05",
        PAYMENTS_MAX_ATTEMPTS="2",
        NATION_STACK_LOCALE="en",  # the output is checked in English, whatever the caller's LANG
    )
    for name in ("country_profile", "country_file"):  # the profile's path, whatever the core calls it
        if name in type(settings).model_fields:
            env[name.upper()] = str(getattr(settings, name))
    env.update(extra)
    return env


def _disburse(cycle_id: int, *args: str) -> list[str]:
    return [sys.executable, "-m", PACKAGE, "payments", "disburse", "--cycle", str(cycle_id), "--quiet", *args]


def _progress(session: Session, cycle_id: int) -> dict[str, int]:
    session.expire_all()
    return dict(
        session.execute(select(Chunk.state, func.count()).where(Chunk.cycle_id == cycle_id).group_by(Chunk.state)).all()
    )


@pytest.mark.country_independent
def test_a_worker_killed_again_and_again_pays_everyone_exactly_once(
    session: Session, ports, country, settings: Settings
) -> None:
    cycle = approved_cycle(session, ports, country, count=3000, chunk_size=50)
    session.commit()
    env = _environment(settings)
    rng = random.Random(20)
    kills = 0
    for _ in range(8):
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            _disburse(cycle.id, "--throttle", "0.01"), cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL
        )
        before = _progress(session, cycle.id)
        # Wait until this worker has moved at least one chunk on, then kill it at a random moment.
        deadline = time.monotonic() + 30
        while _progress(session, cycle.id) == before and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        if worker.poll() is not None:
            break
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        states = _progress(session, cycle.id)
        assert check_ledger(session=session).balanced  # balanced after every kill, mid-cycle
    assert kills >= 5, f"the cycle finished after {kills} kills: make it bigger or the kills earlier"
    assert _progress(session, cycle.id) != {ChunkState.DONE: sum(states.values())}, "no kill landed mid-cycle"
    finished = subprocess.run(_disburse(cycle.id), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    assert finished.returncode == 0, finished.stderr
    assert "matches the control totals" in finished.stdout
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)
    assert check_ledger(session=session).balanced
    report = reconciliations.reconcile(session=session, cycle_id=cycle.id)
    assert report.matches_control_totals and report.state == "disbursed"


@pytest.mark.postgresql
def test_four_workers_share_one_cycle_on_postgresql(session: Session, ports, country, settings: Settings) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("needs TEST_DATABASE_URL pointing at PostgreSQL")
    cycle = approved_cycle(session, ports, country, count=4000, chunk_size=40)
    session.commit()
    finished = subprocess.run(  # noqa: S603
        _disburse(cycle.id, "--workers", "4"),
        cwd=PROJECT_ROOT,
        env=_environment(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)
    assert check_ledger(session=session).balanced
    workers = session.scalars(select(func.count(func.distinct(Chunk.worker))).where(Chunk.cycle_id == cycle.id)).one()
    assert workers >= 2, "the chunks were not shared between workers"
    assert session.scalar(select(func.count()).where(Instruction.state == "pending").select_from(Instruction)) == 0
    assert reconciliations.reconcile(session=session, cycle_id=cycle.id).matches_control_totals
