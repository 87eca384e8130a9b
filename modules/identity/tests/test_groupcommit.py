import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from ....core.db import make_session_factory
from ..groupcommit import GroupCommit
from ..models import OutboxMessage

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent

CALLER = contextvars.ContextVar("caller", default="nobody")


@pytest.fixture
def commits(engine: Engine) -> Iterator[list[int]]:
    """Counts the database commits made while the test runs."""
    seen: list[int] = []

    def count(_connection) -> None:
        seen.append(1)

    event.listen(engine, "commit", count)
    yield seen
    event.remove(engine, "commit", count)


def write(session: Session, body: str) -> str:
    session.add(OutboxMessage(channel="sms", recipient="+000", body=body))
    return body


def bodies(engine: Engine) -> list[str]:
    with make_session_factory(engine)() as session:
        return sorted(session.scalars(select(OutboxMessage.body)))


def run_behind_a_busy_leader(group: GroupCommit, works: list[Callable[[Session], Any]]) -> list[Any]:
    """Run `works` from threads of their own while the leader's batch is held open, so they queue
    together; each thread's CALLER is its index. Returns each one's result or exception."""
    started, release = threading.Event(), threading.Event()
    outcomes: list[Any] = [None] * (len(works) + 1)

    def leader_work(session: Session) -> str:
        started.set()
        release.wait(5)
        return write(session, "leader")

    def submit(index: int, work: Callable[[Session], Any]) -> None:
        CALLER.set(f"caller {index}")
        try:
            outcomes[index] = group.run(work)
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=submit, args=(0, leader_work))]
    threads[0].start()
    assert started.wait(5)
    for index, work in enumerate(works, start=1):
        threads.append(threading.Thread(target=submit, args=(index, work)))
        threads[-1].start()
    deadline = time.monotonic() + 5
    while len(group._queue) < len(works) and time.monotonic() < deadline:  # all queued behind the leader
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join(5)
    return outcomes


def test_requests_queued_meanwhile_share_one_commit(engine: Engine, commits: list[int]) -> None:
    group = GroupCommit(make_session_factory(engine))
    outcomes = run_behind_a_busy_leader(group, [lambda s: write(s, "b"), lambda s: write(s, "c")])
    assert outcomes == ["leader", "b", "c"]
    assert bodies(engine) == ["b", "c", "leader"]
    assert len(commits) == 2  # the leader's batch, then the two that queued behind it


def test_an_error_stays_with_its_request_and_undoes_only_its_writes(engine: Engine, commits: list[int]) -> None:
    def fails(session: Session) -> None:
        write(session, "never")
        raise ValueError("bad request")

    group = GroupCommit(make_session_factory(engine))
    outcomes = run_behind_a_busy_leader(group, [lambda s: write(s, "b"), fails, lambda s: write(s, "d")])
    assert outcomes[:2] == ["leader", "b"] and outcomes[3] == "d"
    assert isinstance(outcomes[2], ValueError)
    assert bodies(engine) == ["b", "d", "leader"]
    assert len(commits) == 3  # the leader's batch; then, the shared one failing, b and d each alone


def test_each_unit_runs_in_its_callers_context(engine: Engine) -> None:
    group = GroupCommit(make_session_factory(engine))
    outcomes = run_behind_a_busy_leader(group, [lambda s: CALLER.get(), lambda s: CALLER.get()])
    assert outcomes[1:] == ["caller 1", "caller 2"]
