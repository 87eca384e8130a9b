"""Payments' background jobs: paying an approved cycle the API handed over, and polling the bank's answers.

The worker (core/worker.py) runs them; `POST /payments/cycles/{id}/disburse` hands a cycle over
when WORKER_HANDOFF is on (PostgreSQL), and `payments disburse` keeps paying in the command itself.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ...core.db import make_engine, make_session_factory
from ...core.errors import Problem
from ...core.jobs import Job
from ...core.runtime import Runtime
from . import answers, disbursing, g2p
from .config import PaymentsSettings
from .rails import rail_from_settings

logger = logging.getLogger(__name__)

DISBURSE = "payments.disburse"
G2P_CALLBACKS = "payments.g2p_callbacks"
POLL_BANK_ANSWERS = "payments.poll_bank_answers"
DONE, FAILED = "done", "failed"


def disbursement_lock(cycle_id: int) -> str:
    """One disbursement of a cycle queued or running at a time (a repeated request joins it)."""
    return f"{DISBURSE}:{cycle_id}"


def disburse(runtime: Runtime, cycle_id: int) -> None:
    """Pay a cycle whose disbursement was started, chunk by chunk (each chunk claimed once: never paid twice)."""
    settings = runtime.settings_of(PaymentsSettings)
    engine = disbursing.immediate_transactions(make_engine(runtime.settings.database_url))
    try:
        report = disbursing.run_worker(
            session_factory=make_session_factory(engine),
            cycle_id=cycle_id,
            currency=runtime.country.profile.currency,
            rail=rail_from_settings(settings),
            settings=settings,
            worker=f"job:{os.getpid()}",
        )
    finally:
        engine.dispose()
    logger.info("cycle %s: %s chunk steps done", cycle_id, report.chunks)


def poll_bank_answers(runtime: Runtime) -> dict[str, int]:
    """Ingest every pain.002/camt.054 file in PAYMENTS_INBOX once, then move it to done/ (or failed/).

    A file moves only after its import committed: a worker stopped in between finds it again, and
    ingesting a message twice changes nothing (answers.ingest), so each is applied exactly once.
    """
    settings = runtime.settings_of(PaymentsSettings)
    moved = {DONE: 0, FAILED: 0}
    if settings.inbox is None:
        return moved
    for path in sorted(p for p in settings.inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            with runtime.session_factory.begin() as session:
                result = answers.ingest(session=session, message=path.read_bytes(), max_attempts=settings.max_attempts)
        except Problem as problem:  # not a bank answer we can read: set aside for a person to look at
            logger.warning("bank file %s refused: %s", path.name, problem.detail)
            _move(path, FAILED)
            moved[FAILED] += 1
            continue
        logger.info(
            "bank file %s: %s %s%s", path.name, result.kind, result.msg_id, " (repeat)" if result.replayed else ""
        )
        _move(path, DONE)
        moved[DONE] += 1
    return moved


def g2p_callbacks(runtime: Runtime) -> None:
    """Answer the G2P Connect messages acknowledged and call their senders back (g2p.deliver_callbacks)."""
    outcome = g2p.deliver_callbacks(
        session_factory=runtime.session_factory,
        ports=runtime.ports,
        country=runtime.country,
        settings=runtime.settings_of(PaymentsSettings),
        secret=runtime.settings.secret_key.get_secret_value(),
    )
    if outcome.delivered or outcome.retrying or outcome.failed:
        logger.info("G2P Connect callbacks: %s", outcome)


def _move(path: Path, folder: str) -> Path:
    target_folder = path.parent / folder
    target_folder.mkdir(exist_ok=True)
    target = target_folder / path.name
    if target.exists():  # a file of the same name came before: keep both
        target = target_folder / f"{path.stem}-{os.getpid()}-{path.stat().st_mtime_ns}{path.suffix}"
    return Path(shutil.move(path, target))


JOBS = (
    Job(DISBURSE, disburse, retries=5, backoff_seconds=3, summary="Pay an approved cycle the API handed over"),
    Job(POLL_BANK_ANSWERS, poll_bank_answers, schedule="* * * * *", summary="Ingest the bank's files in the inbox"),
    # Every 5 seconds (its own back-off decides when a callback is tried again); the API also wakes it on PostgreSQL.
    Job(
        G2P_CALLBACKS,
        g2p_callbacks,
        schedule="* * * * * */5",
        retries=0,
        summary="Answer acknowledged G2P Connect messages and deliver their signed callbacks",
    ),
)
