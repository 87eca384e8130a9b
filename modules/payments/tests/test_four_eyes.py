"""Four-eyes approval of payment cycles: maker ≠ checker, one approval per person, a change voids, totals blind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ....app import create_app
from ....cli import app as stack_cli
from ....core.approvals import Signatory
from ....core.callers import Caller
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.errors import Problem
from ....core.models import Approval, AuditEvent
from ....core.registry import Ports
from ....core.settings import Settings
from .. import cycles, programme_service
from ..config import PaymentsSettings, payments_settings
from ..models import Cycle, Instruction, InstructionState, WrongControlTotals
from .conftest import approve_by, assert_problem
from .factories import CHECKERS, CONCURRENT_APPROVERS, all_at_once, built_cycle, enrolled_programme

pytestmark = pytest.mark.country_independent  # four-eyes on cycles: the rules are the same in every country

AMINA = Caller(kind="staff", id=7, name="amina", role="payments.approver")


def _built(session: Session, ports: Ports, country: LoadedCountry, *, code: str = "FOUR-EYES") -> Cycle:
    cycle = built_cycle(session, ports, country, count=12, chunk_size=5, code=code)
    session.commit()
    return cycle


def _approve(session: Session, cycle: Cycle, approver: Signatory, required: int = 2):
    return cycles.approve_cycle(
        session=session,
        cycle=cycle,
        control_count=cycle.instruction_count,
        control_sum=cycle.instruction_sum,
        approver=approver,
        required=required,
    )


def _build_by_api(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    created = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "4eyes"}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


# ---------------------------------------------------------------- who may approve


def test_the_maker_cannot_approve(client: TestClient, headers, programme) -> None:
    cycle = _build_by_api(client, headers)  # `headers` also holds payments:approve
    refused = client.post(
        f"/payments/cycles/{cycle['id']}/approve", json={"control_count": 1, "control_sum": 7_000}, headers=headers
    )
    assert assert_problem(refused, 403, "someone else must approve")["type"].endswith("/maker-cannot-approve")
    assert client.get(f"/payments/cycles/{cycle['id']}", headers=headers).json()["approvals"] == 0


def test_the_same_partner_cannot_approve_twice(client: TestClient, headers, checkers, programme) -> None:
    cycle = _build_by_api(client, headers)
    url, body = f"/payments/cycles/{cycle['id']}/approve", {"control_count": 1, "control_sum": 7_000}
    assert client.post(url, json=body, headers=checkers[0]).json()["approvals"] == 1
    again = client.post(url, json=body, headers=checkers[0])
    assert assert_problem(again, 409, "already approved")["type"].endswith("/already-approved")
    shown = client.get(f"/payments/cycles/{cycle['id']}", headers=checkers[1]).json()
    assert (shown["state"], shown["approvals"], shown["approvals_required"]) == ("built", 1, 2)


def test_one_person_in_two_roles_cannot_approve_twice(session: Session, ports, country) -> None:
    cycle = _built(session, ports, country)
    assert _approve(session, cycle, Signatory.of(AMINA)).approvals == 1
    as_supervisor = Signatory.of(Caller(kind="staff", id=7, name="amina", role="payments.supervisor"))
    with pytest.raises(Problem, match="already approved") as refused:
        _approve(session, cycle, as_supervisor)
    assert refused.value.kind == "already-approved"
    assert session.get(Cycle, cycle.id).state == "built"


def test_a_maker_recorded_as_a_caller_is_refused_in_any_role(session: Session, ports, country) -> None:
    programme = enrolled_programme(session, ports, country, count=3, code="MAKER-ROLE")
    cycle = programme_service.create_cycle(
        session=session,
        ports=ports,
        country=country,
        programme=programme,
        name="1",
        as_of=date(2026, 1, 1),
        funding_account="TREASURY",
        chunk_size=5,
        maker=Signatory.of(Caller(kind="staff", id=7, name="amina", role="payments.maker")),
    ).record
    with pytest.raises(Problem, match="someone else") as refused:
        _approve(session, cycle, Signatory.of(AMINA))
    assert refused.value.status == 403


# ---------------------------------------------------------------- totals shown only after approval


def test_totals_are_hidden_until_the_cycle_is_approved(
    client: TestClient, headers, checkers, api_headers, programme
) -> None:
    built = _build_by_api(client, headers)
    assert (built["instruction_count"], built["instruction_sum"]) == (1, 7_000)  # the maker sees what they built
    url = f"/payments/cycles/{built['id']}"
    before = client.get(url, headers=checkers[0]).json()
    assert (before["instruction_count"], before["instruction_sum"], before["approvals"]) == (None, None, 0)
    other_builder = api_headers("payments:programme")
    replay = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "4eyes"}, headers=other_builder)
    assert replay.status_code == 200 and replay.json()["instruction_sum"] is None
    assert_problem(client.get(f"{url}/reconciliation", headers=checkers[0]), 409, "not approved")

    half = client.post(f"{url}/approve", json={"control_count": 1, "control_sum": 7_000}, headers=checkers[0]).json()
    assert (half["state"], half["instruction_sum"], half["approvals"]) == ("built", None, 1)
    approved = approve_by(client, built["id"], checkers[1:], 1, 7_000).json()
    assert (approved["state"], approved["instruction_count"], approved["instruction_sum"]) == ("approved", 1, 7_000)
    assert (approved["approvals"], approved["approvals_required"]) == (2, 2)
    assert client.get(url, headers=checkers[0]).json()["instruction_sum"] == 7_000


# ---------------------------------------------------------------- wrong totals are limited: they cannot be guessed


def _enter_totals(client: TestClient, cycle_id: int, headers: dict[str, str], count: int, total: int, **more: Any):
    body = {"control_count": count, "control_sum": total}
    return client.post(f"/payments/cycles/{cycle_id}/approve", json=body, headers={**headers, **more})


def test_an_approver_who_enters_wrong_totals_too_often_may_no_longer_approve_the_cycle(
    client: TestClient, session: Session, headers, checkers, programme
) -> None:
    cycle = _build_by_api(client, headers)  # one payment of 7 000
    for attempt in (1, 2, 3):
        wrong = assert_problem(_enter_totals(client, cycle["id"], checkers[0], 1, 7_000 + attempt), 409, "do not match")
        assert wrong["attempts_left"] == 3 - attempt
    # Even the right totals are refused now: an answer that changed with them would confirm a guess.
    refused = assert_problem(_enter_totals(client, cycle["id"], checkers[0], 1, 7_000), 403, "too many wrong")
    assert refused["type"].endswith("/too-many-wrong-control-totals")
    assert "7000" not in refused["detail"] and "7 000" not in refused["detail"]
    french = _enter_totals(client, cycle["id"], checkers[0], 1, 7_000, **{"Accept-Language": "fr"})
    assert french.status_code == 403 and french.json()["detail"] != refused["detail"]
    assert _enter_totals(client, cycle["id"], checkers[1], 1, 7_000).status_code == 200  # another approver may
    subject = f"cycle:{cycle['id']}"
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject == subject).order_by(AuditEvent.id))
    assert [a for a in actions if "control-totals" in a] == ["payments.cycle.control-totals-wrong"] * 3 + [
        "payments.cycle.control-totals-refused"
    ] * 2


def test_the_limit_of_wrong_totals_is_a_setting_and_counts_per_cycle(
    client: TestClient, headers, checkers, programme
) -> None:
    client.app.dependency_overrides[payments_settings] = lambda: PaymentsSettings(max_wrong_control_totals=1)  # type: ignore[attr-defined]
    first = _build_by_api(client, headers)
    assert _enter_totals(client, first["id"], checkers[0], 2, 7_000).status_code == 409
    assert _enter_totals(client, first["id"], checkers[0], 1, 7_000).status_code == 403
    other = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "other"}, headers=headers).json()
    assert _enter_totals(client, other["id"], checkers[0], 1, 7_000).status_code == 200
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_settings_refuse_a_limit_of_wrong_totals_below_one() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        PaymentsSettings(max_wrong_control_totals=0)


# ---------------------------------------------------------------- a change voids


def _redirect_first_payment(session: Session, cycle: Cycle) -> None:
    """The change four-eyes exists for: same count, same sum, one payment now goes to someone else."""
    first = session.scalar(
        select(Instruction.id)
        .where(Instruction.cycle_id == cycle.id, Instruction.state == InstructionState.PENDING)
        .order_by(Instruction.id)
    )
    session.execute(update(Instruction).where(Instruction.id == first).values(beneficiary_key="ext:MALLORY"))
    session.commit()


def test_a_change_after_an_approval_voids_it(session: Session, ports, country) -> None:
    cycle = _built(session, ports, country)
    assert _approve(session, cycle, CHECKERS[0]).approvals == 1
    session.commit()
    _redirect_first_payment(session, cycle)
    assert cycles.cycle_tally(session=session, cycle=cycle, required=2).approvals == 0

    tally = _approve(session, cycle, CHECKERS[1])  # counts alone: the first approval was of other instructions
    assert (tally.approvals, session.get(Cycle, cycle.id).state) == (1, "built")
    assert _approve(session, cycle, CHECKERS[0]).reached  # the first checker may approve the new version
    session.commit()
    voided = session.scalars(select(Approval).where(Approval.voided_at.is_not(None))).all()
    assert [a.person for a in voided] == [CHECKERS[0].person]
    assert session.scalar(select(func.count()).where(AuditEvent.action == "approval.voided")) == 1


def test_a_change_after_the_cycle_is_approved_stops_its_disbursement(session: Session, ports, country) -> None:
    cycle = _built(session, ports, country)
    for checker in CHECKERS:
        _approve(session, cycle, checker)
    session.commit()
    _redirect_first_payment(session, cycle)
    with pytest.raises(Problem, match="changed after it was approved") as refused:
        cycles.start_disbursement(session=session, cycle=cycle, currency=country.profile.currency, actor="test")
    assert refused.value.kind == "changed-since-approved"


# ---------------------------------------------------------------- the required number


@pytest.mark.parametrize("required", [1, 3])
def test_the_required_number_is_configurable(session: Session, ports, country, required: int) -> None:
    cycle = _built(session, ports, country, code=f"NEEDS-{required}")
    people = [Signatory(person=f"staff:{n}", actor=f"staff:p{n} (payments.approver)") for n in range(10, 10 + required)]
    tallies = [_approve(session, cycle, person, required=required) for person in people]
    assert [t.approvals for t in tallies] == list(range(1, required + 1))
    assert [t.reached for t in tallies] == [False] * (required - 1) + [True]
    assert session.get(Cycle, cycle.id).state == "approved"


def test_the_api_reads_the_required_number_from_the_settings(
    settings: Settings, engine: Engine, headers, checkers, programme: dict[str, Any], client: TestClient
) -> None:
    cycle = _build_by_api(client, headers)
    one = settings.model_copy(update={"approvals_required": {cycles.APPROVAL_ACTION: 1}})
    with TestClient(create_app(one), headers={"Accept-Language": "en"}) as single:
        approved = approve_by(single, cycle["id"], checkers[:1], 1, 7_000).json()
    assert (approved["state"], approved["approvals_required"]) == ("approved", 1)


def test_settings_refuse_a_required_number_below_one(settings: Settings) -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings.model_validate({**settings.model_dump(), "approvals_required": {cycles.APPROVAL_ACTION: 0}})


# ---------------------------------------------------------------- concurrency (run it on PostgreSQL too)


def _approve_in_own_transaction(engine: Engine, cycle_id: int, approver: Signatory) -> Callable[[], Any]:
    def call() -> Any:
        with make_session_factory(engine).begin() as own:
            found = cycles.get_cycle(session=own, cycle_id=cycle_id)
            return _approve(own, found, approver).approvals

    return call


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_approvals_by_distinct_people_approve_the_cycle_once(
    engine: Engine, session: Session, ports, country, attempt: int
) -> None:
    cycle = _built(session, ports, country, code=f"RACE-{attempt}")
    results = all_at_once([_approve_in_own_transaction(engine, cycle.id, p) for p in CONCURRENT_APPROVERS])
    assert not [r for r in results if isinstance(r, Exception)], results
    session.expire_all()
    recorded = session.scalars(select(Approval.person).where(Approval.subject == f"cycle:{cycle.id}")).all()
    assert len(recorded) == 2 and len(set(recorded)) == 2
    assert session.get(Cycle, cycle.id).state == "approved"
    assert session.scalar(select(func.count()).where(AuditEvent.action == "payments.cycle.approved")) == 1


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_approvals_by_one_person_count_once(
    engine: Engine, session: Session, ports, country, attempt: int
) -> None:
    cycle = _built(session, ports, country, code=f"SAME-{attempt}")
    results = all_at_once([_approve_in_own_transaction(engine, cycle.id, CHECKERS[0]) for _ in range(6)])
    assert results.count(1) == 1, results
    assert all(isinstance(r, Problem) and r.kind == "already-approved" for r in results if r != 1), results
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Approval)) == 1
    assert session.get(Cycle, cycle.id).state == "built"


def _enter_wrong_totals_in_own_transaction(engine: Engine, cycle_id: int, limit: int) -> Callable[[], Any]:
    def call() -> Any:
        with make_session_factory(engine)() as own:
            found = cycles.get_cycle(session=own, cycle_id=cycle_id)
            try:
                cycles.approve_cycle(
                    session=own,
                    cycle=found,
                    control_count=found.instruction_count + 1,
                    control_sum=found.instruction_sum,
                    approver=CHECKERS[0],
                    required=2,
                    max_wrong_totals=limit,
                )
            except cycles.CountedRefusal as refusal:
                own.commit()  # as the API does: the wrong entry counts
                return refusal.status
            return "approved"

    return call


def test_concurrent_wrong_totals_of_one_person_count_one_by_one(
    engine: Engine, session: Session, ports, country
) -> None:
    cycle = _built(session, ports, country, code="GUESS")
    results = all_at_once([_enter_wrong_totals_in_own_transaction(engine, cycle.id, 3) for _ in range(6)])
    assert sorted(results) == [403, 403, 403, 409, 409, 409], results
    session.expire_all()
    assert session.scalars(select(WrongControlTotals.attempts)).one() == 3


def test_the_database_refuses_a_second_live_approval_of_one_person(session: Session) -> None:
    row = {"action": "x", "subject": "s", "fingerprint": "f", "person": "staff:1", "actor": "staff:a"}
    session.add(Approval(**row))
    session.flush()
    session.add(Approval(**row))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


# ---------------------------------------------------------------- the audit log of a full cycle


def test_the_audit_log_of_a_full_cycle_names_each_person_and_role(session: Session, ports, country) -> None:
    cycle = _built(session, ports, country)
    for checker in CHECKERS:
        _approve(session, cycle, checker)
    cycles.start_disbursement(
        session=session, cycle=cycle, currency=country.profile.currency, actor="staff:disburser (payments.disburser)"
    )
    session.commit()
    steps = ("payments.cycle.built", "approval.given", "payments.cycle.approved", "payments.cycle.funded")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(steps)).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [
        ("payments.cycle.built", "staff:maker (payments.maker)"),
        ("approval.given", "staff:checker2 (payments.approver)"),
        ("approval.given", "staff:checker3 (payments.approver)"),
        ("payments.cycle.approved", "staff:checker3 (payments.approver)"),
        ("payments.cycle.funded", "staff:disburser (payments.disburser)"),
    ]
    given = [e.detail for e in events if e.action == "approval.given"]
    assert [(d["person"], d["role"], d["approvals"]) for d in given] == [
        ("staff:2", "payments.approver", 1),
        ("staff:3", "payments.approver", 2),
    ]


# ---------------------------------------------------------------- the CLI acts as a named operator


@pytest.mark.usefixtures("cli_on_test_database")
def test_the_cli_approves_as_the_operator_it_is_told(session: Session, ports, country) -> None:
    cycle = _built(session, ports, country)
    totals = ["--control-count", str(cycle.instruction_count), "--control-sum", str(cycle.instruction_sum)]
    runner = CliRunner()
    first = runner.invoke(stack_cli, ["payments", "approve", "--cycle", str(cycle.id), *totals, "--as", "amina"])
    assert first.exit_code == 0 and "1 of the 2" in first.output, first.output
    again = runner.invoke(stack_cli, ["payments", "approve", "--cycle", str(cycle.id), *totals, "--as", "amina"])
    assert again.exit_code == 1 and "already approved" in again.output + again.stderr
    second = runner.invoke(stack_cli, ["payments", "approve", "--cycle", str(cycle.id), *totals, "--as", "juma"])
    assert second.exit_code == 0 and "approved" in second.output, second.output
    session.expire_all()
    actors = session.scalars(select(Approval.actor).order_by(Approval.id)).all()
    assert [a.split(" ")[0] for a in actors] == ["operator:amina", "operator:juma"]
    assert all("(os:" in a for a in actors)
