"""Cycles end to end in process: envelope, chunks, the simulated bank, retries, returns and reconciliation."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.errors import Conflict, Problem
from ....core.registry import Ports
from .. import answers, cycles, disbursing, iso20022, reconciliations
from ..config import PaymentsSettings
from ..models import Chunk, Cycle, Instruction, Transfer
from ..rails import FileRail, SimulatedBank
from ..service import check_ledger
from .factories import CHECKERS, MAKER, approved_cycle, assert_paid_exactly_once, enrolled_programme, expected_amount


def _run(engine, cycle_id: int, currency: str, rail, **settings) -> disbursing.WorkerReport:
    return disbursing.run_worker(
        session_factory=make_session_factory(engine),
        cycle_id=cycle_id,
        currency=currency,
        rail=rail,
        settings=PaymentsSettings(**settings),
        worker="test",
    )


@pytest.fixture
def cycle(session: Session, ports: Ports, country: LoadedCountry) -> Cycle:
    found = approved_cycle(session, ports, country, count=500, chunk_size=64)
    cycles.start_disbursement(session=session, cycle=found, currency=country.profile.currency, actor="test")
    session.commit()
    return found


def test_eligibility_and_entitlement_make_the_instructions(session: Session, cycle: Cycle) -> None:
    amounts = dict(
        session.execute(
            select(Instruction.beneficiary_key, Instruction.amount).where(Instruction.cycle_id == cycle.id)
        ).all()
    )
    expected = {f"ext:TEST-PROG-{i}": expected_amount(i) for i in range(500) if expected_amount(i) is not None}
    assert amounts == expected
    assert (cycle.instruction_count, cycle.instruction_sum) == (len(expected), sum(expected.values()))
    assert session.scalar(select(Chunk.number).order_by(Chunk.number.desc()).limit(1)) == (len(expected) - 1) // 64


def test_a_cycle_is_paid_exactly_once_and_reconciles(engine, session: Session, cycle: Cycle, country) -> None:
    rail = SimulatedBank(failure_rate=0.2, seed=11)
    _run(engine, cycle.id, country.profile.currency, rail, max_attempts=2)
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)
    report = reconciliations.reconcile(session=session, cycle_id=cycle.id)
    assert report.state == "disbursed"
    assert report.matches_control_totals, report
    assert report.failed.count > 0 and report.paid.count > 0 and report.pending.count == 0
    assert report.returned_to_programme == report.failed.sum
    assert check_ledger(session=session).balanced
    retried = session.scalar(select(Instruction.id).where(Instruction.attempts == 2).limit(1))
    assert retried is not None, "a retryable rejection (MS03) was sent again"
    returned = session.scalars(select(Instruction).where(Instruction.state == "returned")).first()
    assert returned.reason.startswith("rejected by the bank") and returned.status_code in ("MS03", "AC04", "AC01")


def test_running_a_finished_cycle_again_pays_nobody(engine, session: Session, cycle: Cycle, country) -> None:
    _run(engine, cycle.id, country.profile.currency, SimulatedBank())
    transfers = session.scalar(select(Transfer.id).order_by(Transfer.id.desc()).limit(1))
    assert _run(engine, cycle.id, country.profile.currency, SimulatedBank()).chunks == 0
    cycles.start_disbursement(session=session, cycle=cycle, currency=country.profile.currency, actor="test")
    session.commit()
    assert session.scalar(select(Transfer.id).order_by(Transfer.id.desc()).limit(1)) == transfers
    assert_paid_exactly_once(session, cycle.id)


def test_a_tampered_cycle_is_refused_before_money_moves(session: Session, ports, country) -> None:
    found = approved_cycle(session, ports, country, count=50)
    session.execute(update(Instruction).where(Instruction.cycle_id == found.id).values(amount=Instruction.amount + 1))
    with pytest.raises(Problem, match="refusing to disburse"):
        cycles.start_disbursement(session=session, cycle=found, currency=country.profile.currency, actor="test")
    assert session.scalar(select(Transfer.id)) is None


def test_an_envelope_that_does_not_match_is_not_approved(session: Session, ports, country) -> None:
    from .. import programme_service

    programme = enrolled_programme(session, ports, country, count=30)
    built = programme_service.create_cycle(
        session=session,
        ports=ports,
        country=country,
        programme=programme,
        name="1",
        as_of=None,
        funding_account="TREASURY",
        chunk_size=10,
        maker=MAKER,
    ).record
    with pytest.raises(Problem, match="control totals do not match") as refused:
        cycles.approve_cycle(
            session=session,
            cycle=built,
            control_count=built.instruction_count,
            control_sum=built.instruction_sum + 1,
            approver=CHECKERS[0],
            required=2,
        )
    assert str(built.instruction_sum) not in refused.value.detail  # the approver is not told the real totals
    with pytest.raises(Conflict, match="not approved"):
        cycles.start_disbursement(session=session, cycle=built, currency=country.profile.currency, actor="test")


def test_unlinked_beneficiaries_are_reported_not_paid(session: Session, ports, country) -> None:
    found = approved_cycle(session, ports, country, count=40, linked=20)
    report = reconciliations.reconcile(session=session, cycle_id=found.id)
    assert report.unlinked.count == sum(1 for i in range(20, 40) if expected_amount(i) is not None)
    assert report.envelope.count == sum(1 for i in range(20) if expected_amount(i) is not None)


def test_pain001_is_valid_against_the_official_schema(session: Session, cycle: Cycle, country, tmp_path) -> None:
    rail = FileRail(tmp_path)
    chunk = session.scalars(select(Chunk).where(Chunk.cycle_id == cycle.id).order_by(Chunk.number)).first()
    disbursing.commit_chunk(session=session, chunk=chunk, currency=country.profile.currency, worker="test")
    disbursing.send_chunk(
        session=session, chunk=chunk, currency=country.profile.currency, rail=rail, settings=PaymentsSettings()
    )
    session.commit()
    (written,) = tmp_path.glob("*.pain001.xml")
    initiation = iso20022.read_pain001(written.read_bytes())  # validates against pain.001.001.09.xsd
    assert len(initiation.transfers) == 64 and chunk.state == "sent"
    broken = written.read_bytes().replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XXX</PmtMtd>")
    with pytest.raises(iso20022.Unprocessable, match=r"pain\.001\.001\.09\.xsd"):
        iso20022.validate_pain001(broken)


def test_an_asynchronous_bank_is_reconciled_from_its_files(session: Session, cycle: Cycle, country, tmp_path) -> None:
    """File rail: pain.001 out, then the bank's pain.002 and camt.054 ingested (each twice: no-op)."""
    from ....core.db import make_session_factory as factory

    engine = session.get_bind()
    _run(engine, cycle.id, country.profile.currency, FileRail(tmp_path))
    session.expire_all()
    assert reconciliations.reconcile(session=session, cycle_id=cycle.id).pending.count == cycle.instruction_count
    bank = SimulatedBank(failure_rate=0.1, seed=3)
    for message in sorted(tmp_path.glob("*.xml")):
        for reply in bank.submit(message.read_bytes()):
            with factory(engine).begin() as s:
                answers.ingest(session=s, message=reply, max_attempts=1)
            with factory(engine).begin() as s:
                assert answers.ingest(session=s, message=reply, max_attempts=1).replayed
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)
    report = reconciliations.reconcile(session=session, cycle_id=cycle.id)
    assert report.matches_control_totals and report.failed.count > 0
    chunks = len(session.scalars(select(Chunk.id).where(Chunk.cycle_id == cycle.id)).all())
    assert report.messages == {"pain.001": chunks, "pain.002": chunks, "camt.054": chunks}


def test_bank_entries_that_match_nothing_are_reported(session: Session, cycle: Cycle, country) -> None:
    _run(session.get_bind(), cycle.id, country.profile.currency, SimulatedBank())
    stray = iso20022.camt054(
        msg_id="STRAY-1",
        account="X",
        currency=country.profile.currency,
        bookings=[
            iso20022.Booking("NOT-OURS-1", 500, country.profile.currency, credit=True, booked=True),
            iso20022.Booking(f"G2P-{cycle.id}-1", 1, country.profile.currency, credit=True, booked=True),
        ],
    )
    result = answers.ingest(session=session, message=stray, max_attempts=1, cycle_id=cycle.id)
    session.commit()
    assert (result.unmatched, result.unmatched_sum, result.settled) == (2, 501, 0)
    report = reconciliations.reconcile(session=session, cycle_id=cycle.id)
    assert (report.unmatched.count, report.unmatched.sum) == (2, 501)
