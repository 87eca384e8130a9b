"""Group commit: many requests' transactions committed as one.

Every authentication appends to the core's hash-chained audit log, and appends
are serialised (on SQLite by the database write lock, on PostgreSQL by the
chain head's row lock, held until commit). One transaction per request makes
that lock, and the commit under it, the ceiling. Here the first request to
arrive leads: it runs its own unit of work and every unit queued meanwhile in
one session, commits once, and hands each request its result. Requests that
arrive while a batch runs queue for the next, which the first of them leads.

A request still returns only after its own writes and audit record are
committed. If anything in a batch fails (one unit raising, or the commit), the
batch is rolled back and each of its units runs again alone, so an error stays
with the request that caused it; the worst case is one transaction per request,
as without grouping. A unit may therefore run twice: it must keep its effects
inside the session.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

# Enough to empty the queue of a busy API process; it bounds how long a batch holds the lock.
MAX_BATCH = 64


class _Unit:
    def __init__(self, work: Callable[[Session], Any]) -> None:
        self.work = work
        # The caller's context (its locale above all), so messages raised by the leader's thread
        # read as the caller's own would.
        self.context = contextvars.copy_context()
        self.woken = threading.Event()  # done, or promoted to lead the next batch
        self.leads = False
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self, session: Session) -> Any:
        return self.context.run(self.work, session)

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        if not self.finished:
            raise RuntimeError("the batch this request was in was interrupted")
        return self.result


class GroupCommit:
    """Runs units of work from concurrent threads in shared transactions (see the module docstring)."""

    def __init__(self, session_factory: sessionmaker[Session], max_batch: int = MAX_BATCH) -> None:
        self._session_factory = session_factory
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Unit] = []
        self._leading = False

    def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)`, committed; returns its result once the commit is done, or raises its error."""
        unit = _Unit(work)
        with self._lock:
            self._queue.append(unit)
            if not self._leading:
                self._leading = unit.leads = True
        if not unit.leads:
            unit.woken.wait()
        if unit.leads:
            self._lead()
        return unit.outcome()

    def _lead(self) -> None:
        # The leader's own unit is first in the queue: it is always in the batch it leads.
        with self._lock:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        try:
            self._commit(batch)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].woken.set()
                else:
                    self._leading = False
            for unit in batch:
                unit.woken.set()

    def _commit(self, batch: list[_Unit]) -> None:
        try:
            with self._session_factory() as session:
                results = [unit.run(session) for unit in batch]
                session.commit()
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
                return
            for unit in batch:
                self._commit([unit])
            return
        for unit, result in zip(batch, results, strict=True):
            unit.result, unit.finished = result, True


_instances: WeakKeyDictionary[sessionmaker[Session], GroupCommit] = WeakKeyDictionary()
_instances_lock = threading.Lock()


def for_factory(session_factory: sessionmaker[Session]) -> GroupCommit:
    """The process's group commit for this session factory (one per database)."""
    with _instances_lock:
        instance = _instances.get(session_factory)
        if instance is None:
            instance = _instances[session_factory] = GroupCommit(session_factory)
        return instance
