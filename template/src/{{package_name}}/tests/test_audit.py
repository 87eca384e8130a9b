from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from ..core import audit
from ..core.db import make_session_factory
from ..core.models import AuditEvent, AuditHead

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country


def record_three(session: Session) -> list[AuditEvent]:
    events = [
        audit.record(session=session, actor="bank-a", action="test.action", subject=f"s{i}", detail={"n": i})
        for i in range(3)
    ]
    session.commit()
    return events


def test_events_chain_from_genesis(session: Session) -> None:
    events = record_three(session)
    assert events[0].previous_hash == audit.GENESIS_HASH
    assert [e.previous_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = audit.verify_chain(session=session)
    assert report.intact and report.events == 3


def test_editing_a_past_event_is_detected(session: Session) -> None:
    events = record_three(session)
    session.execute(update(AuditEvent).where(AuditEvent.id == events[1].id).values(detail={"n": 99}))
    session.commit()
    assert audit.verify_chain(session=session).first_broken_id == events[1].id


def test_deleting_the_last_event_is_detected(session: Session) -> None:
    events = record_three(session)
    session.delete(events[2])
    session.commit()
    assert not audit.verify_chain(session=session).intact


def test_events_for_a_subject_newest_first(session: Session) -> None:
    record_three(session)
    audit.record(session=session, actor="bank-b", action="test.again", subject="s1")
    session.commit()
    assert [e.action for e in audit.events_for(session=session, subject="s1")] == ["test.again", "test.action"]


def test_concurrent_appends_keep_one_chain(engine: Engine) -> None:
    factory = make_session_factory(engine)

    def append(worker: int) -> None:
        for n in range(10):
            with factory.begin() as session:
                audit.record(session=session, actor=f"w{worker}", action="test.concurrent", subject=f"s{n}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(append, range(4)))
    with factory() as session:
        report = audit.verify_chain(session=session)
    assert report.intact and report.events == 40


def test_chain_verifies_inside_the_appending_transaction(session: Session) -> None:
    session.get(AuditHead, 1)  # loaded before the appends move the head underneath it
    event = audit.record(session=session, actor="bank-a", action="test.action", subject="s1")
    report = audit.verify_chain(session=session)
    assert report.intact and report.events == 1
    assert session.get(AuditEvent, event.id) is event


def test_a_missing_head_is_started_at_genesis(session: Session) -> None:
    session.execute(delete(AuditHead))
    session.commit()
    first = audit.record(session=session, actor="bank-a", action="test.action", subject="s1")
    second = audit.record(session=session, actor="bank-a", action="test.action", subject="s2")
    session.commit()
    assert first.previous_hash == audit.GENESIS_HASH and second.previous_hash == first.hash
    assert session.scalars(select(AuditHead.last_hash)).one() == second.hash


def test_an_append_rolled_back_with_its_savepoint_leaves_no_gap(session: Session) -> None:
    kept = audit.record(session=session, actor="bank-a", action="test.kept", subject="s1")
    savepoint = session.begin_nested()
    audit.record(session=session, actor="bank-a", action="test.undone", subject="s1")
    savepoint.rollback()
    after = audit.record(session=session, actor="bank-a", action="test.after", subject="s1")
    session.commit()
    assert after.previous_hash == kept.hash
    assert audit.verify_chain(session=session).intact
