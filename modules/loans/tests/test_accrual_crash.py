"""Exactly once under SIGKILL and with several workers: real processes of `loans accrue`."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from ....conftest import PROJECT_ROOT, TEST_SECRET
from ....core.country import LoadedCountry
from ....core.settings import Settings
from .. import ageing
from ..models import Accrual, Event, Instalment, Loan, Position
from .portfolio import Portfolio, create_portfolio
from .test_accrual import DAY, assert_penalties_booked_once, rounding_of

PACKAGE = __name__.split(".")[0]

pytestmark = pytest.mark.country_independent


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=settings.database_url,
        SECRET_KEY=TEST_SECRET,
        ENVIRONMENT="test",
        COUNTRY_PROFILE=str(settings.country_profile),
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT / "src"), env.get("PYTHONPATH")])),
        NATION_STACK_LOCALE="en",  # the output is checked in English, whatever the caller's LANG
        COLUMNS="200",  # rich wraps at 80 columns without a terminal
        **extra,
    )
    return env


def _accrue(*args: str) -> list[str]:
    return [sys.executable, "-m", PACKAGE, "loans", "accrue", "--day", DAY.isoformat(), "--quiet", *args]


def _accrued(session: Session) -> int:
    """Loans accrued for the day: their accrual rows."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Accrual).where(Accrual.day == DAY))


def assert_chunks_whole(session: Session, size: int) -> None:
    """Each chunk committed whole or not at all: all its loans' rows or none, each aged as its position says."""
    session.expire_all()
    rows = dict(session.execute(select(Accrual.loan_id, Accrual.days_past_due).where(Accrual.day == DAY)).all())
    unpaid = dict(session.execute(select(Position.loan_id, Position.unpaid_from)).all())
    done = {loan // size for loan in rows}
    assert {loan for loan in unpaid if loan // size in done} == set(rows), "a killed chunk left no rows behind"
    assert all(ageing.days_past_due(unpaid[loan], DAY) == days for loan, days in rows.items())
    penalised = select(Instalment.loan_id).where(Instalment.penalised_on == DAY)
    assert all(loan // size in done for loan in session.scalars(penalised)), "nor penalties"


def assert_accrued_exactly_once(session: Session, portfolio: Portfolio) -> None:
    session.expire_all()
    rows = dict(session.execute(select(Accrual.loan_id, Accrual.interest).where(Accrual.day == DAY)).all())
    loans = set(session.scalars(select(Loan.id).where(Loan.state == "active")))
    assert set(rows) == loans, "every active loan has one accrual row for the day (the key allows no second)"
    assert session.scalar(select(func.count()).select_from(Accrual)) == len(rows), "and no other"
    assert sum(rows.values()) == portfolio.expected.interest
    assert_penalties_booked_once(session, portfolio.expected.penalties, portfolio.expected.penalty_amount)
    penalised_today = select(func.count()).select_from(Instalment).where(Instalment.penalised_on == DAY)
    assert session.scalar(penalised_today) == portfolio.expected.penalties


def test_an_accrual_killed_again_and_again_accrues_every_loan_exactly_once(
    engine: Engine, session: Session, country: LoadedCountry, settings: Settings
) -> None:
    portfolio = create_portfolio(
        engine, count=100_000, day=DAY, rounding=rounding_of(country), currency=country.profile.currency
    )
    session.commit()
    env = _environment(settings, LOANS_ACCRUAL_CHUNK="2000")  # 50 chunks
    rng = random.Random(18)
    kills = 0
    for _ in range(6):
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            _accrue("--throttle", "0.02"), cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL
        )
        start = _accrued(session)
        # Wait until this worker has committed a chunk, then kill it at a random moment.
        deadline = time.monotonic() + 60
        while _accrued(session) == start and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.25))
        if worker.poll() is not None:
            break
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        accrued = _accrued(session)
        assert_chunks_whole(session, 2000)
    assert kills >= 5, f"the day finished after {kills} kills: make the portfolio bigger or the kills earlier"
    assert 0 < accrued < portfolio.count, "no kill landed mid-day"
    finished = subprocess.run(_accrue(), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "100,000 of 100,000 active loans accrued" in finished.stdout, finished.stdout
    assert_accrued_exactly_once(session, portfolio)
    again = subprocess.run(_accrue(), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert again.returncode == 0 and "this run: 0 loans in 0 chunks, 0 late penalties" in again.stdout, again.stdout
    assert_accrued_exactly_once(session, portfolio)
    assert_chunks_whole(session, 2000)


def test_workers_running_the_same_day_at_once_accrue_every_loan_exactly_once(
    engine: Engine, session: Session, country: LoadedCountry, settings: Settings
) -> None:
    portfolio = create_portfolio(
        engine, count=20_000, day=DAY, rounding=rounding_of(country), currency=country.profile.currency
    )
    session.commit()
    env = _environment(settings, LOANS_ACCRUAL_CHUNK="500")  # 40 chunks
    commands = [_accrue("--throttle", "0.03"), _accrue("--workers", "2", "--throttle", "0.03")]
    runs = [
        subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
        for command in commands
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
        assert "20,000 of 20,000 active loans accrued" in out, out
    done = [int(out.split("this run: ")[1].split(" loans")[0].replace(",", "")) for out, _err in outputs]
    assert sum(done) == portfolio.count, f"each loan accrued by exactly one of the runs: {done}"
    assert_accrued_exactly_once(session, portfolio)
    events = session.scalar(select(func.count()).select_from(Event).where(Event.kind == "penalty"))
    assert events == portfolio.expected.penalties
    if engine.dialect.name == "sqlite":
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
