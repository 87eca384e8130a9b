"""Four-eyes on a programme's rules: proposed by one person, in force once enough others approved them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from ....core.approvals import Signatory
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.eligibility import Rule
from ....core.errors import Problem
from ....core.models import Approval, AuditEvent
from ....core.ports import AssessedIncome
from ....core.registry import Ports
from ....tests.queue_pages import assert_refused_at, walk_pages
from .. import rule_changes
from ..domain import ProgrammeRules
from ..models import Instruction, Programme, ProgrammeRuleChange
from ..programmes import Entitlement
from .conftest import assert_problem, programme_body
from .factories import CHECKERS, CONCURRENT_APPROVERS, MAKER, all_at_once, enrolled_programme

URL = "/payments/programmes/CASH-2026/rule-changes"
# Everyone 16 or older, wherever they live, gets 6 000: P-1, P-2 and P-3 of the `programme` fixture (P-4 is unlinked).
NEW_RULES = {"eligibility": [{"attribute": "age", "op": ">=", "value": 16}], "entitlement": {"flat": 6_000}}


def _propose(client: TestClient, headers: dict[str, str], rules: dict[str, Any] = NEW_RULES) -> dict[str, Any]:
    proposed = client.post(URL, json=rules, headers=headers)
    assert proposed.status_code == 202, proposed.text
    return proposed.json()


def _approve_by(client: TestClient, change_id: int, headers: dict[str, str]) -> Any:
    return client.post(f"{URL}/{change_id}/approvals", headers=headers)


def _rules_of(client: TestClient, headers: dict[str, str]) -> tuple[list, dict]:
    shown = client.get("/payments/programmes/CASH-2026", headers=headers).json()
    return shown["eligibility"], shown["entitlement"]


# ---------------------------------------------------------------- proposing


def test_a_proposal_waits_and_the_programme_keeps_its_rules(client: TestClient, headers, programme) -> None:
    change = _propose(client, headers)
    assert (change["state"], change["approvals"], change["approvals_required"]) == ("pending", 0, 2)
    assert change["proposed_by"].startswith("partner:") and change["approved_by"] is None
    assert change["eligibility"] == [{"attribute": "age", "op": ">=", "value": 16, "if_missing": "ineligible"}]
    assert _rules_of(client, headers) == (programme["eligibility"], programme["entitlement"])


def test_a_proposal_is_checked_like_the_rules_of_a_new_programme(client: TestClient, headers, programme) -> None:
    no_year = {"eligibility": [{"attribute": "assessed_income", "op": "<", "value": 1}], "entitlement": {"flat": 1}}
    assert assert_problem(client.post(URL, json=no_year, headers=headers), 422, "fiscal year")
    list_for_order = {"eligibility": [{"attribute": "age", "op": "<", "value": [1]}], "entitlement": {"flat": 1}}
    assert client.post(URL, json=list_for_order, headers=headers).status_code == 422
    assert client.post(URL, json={**NEW_RULES, "name": "renamed"}, headers=headers).status_code == 422
    assert client.post(URL, json={"entitlement": {"flat": -1}}, headers=headers).status_code == 422


@pytest.mark.selection  # the tax module present or absent changes what it checks
def test_rules_reading_assessed_income_need_the_tax_module(client: TestClient, headers, ports, programme) -> None:
    if ports.get(AssessedIncome) is not None:
        pytest.skip("tax is installed")
    by_income = {"eligibility": [{"attribute": "assessed_income", "op": "<", "value": 1}], "income_year": 2026}
    refused = client.post(URL, json={**by_income, "entitlement": {"flat": 1}}, headers=headers)
    assert assert_problem(refused, 422, "tax module")["type"].endswith("/tax-unavailable")


def test_the_same_rules_again_are_no_change(client: TestClient, headers, programme) -> None:
    same = {"eligibility": programme["eligibility"], "entitlement": programme["entitlement"]}
    refused = client.post(URL, json=same, headers=headers)
    assert assert_problem(refused, 409, "already has these rules")["type"].endswith("/no-change")


def test_unknown_programmes_and_changes_are_not_found(
    client: TestClient, headers, checkers, programme, country: LoadedCountry
) -> None:
    assert_problem(client.post("/payments/programmes/NOPE/rule-changes", json=NEW_RULES, headers=headers), 404)
    assert_problem(client.get("/payments/programmes/NOPE/rule-changes", headers=headers), 404)
    assert_problem(_approve_by(client, 999, checkers[0]), 404, "no rule change 999")
    other = client.post("/payments/programmes", json=programme_body(country, code="OTHER"), headers=headers)
    assert other.status_code == 201, other.text
    change = _propose(client, headers)
    elsewhere = client.post(f"/payments/programmes/OTHER/rule-changes/{change['id']}/approvals", headers=checkers[0])
    assert_problem(elsewhere, 404, "OTHER has no rule change")
    assert client.post(f"{URL}/0/approvals", headers=checkers[0]).status_code == 422


def test_refusals_speak_the_callers_language(client: TestClient, headers, checkers, programme) -> None:
    french = {**checkers[0], "Accept-Language": "fr"}
    assert_problem(_approve_by(client, 999, french), 404, "n’a pas de changement de règles 999")
    same = {"eligibility": programme["eligibility"], "entitlement": programme["entitlement"]}
    assert_problem(client.post(URL, json=same, headers={**headers, "Accept-Language": "ja"}), 409, "すでにこの内容")


# ---------------------------------------------------------------- approving


def test_the_proposer_cannot_approve(client: TestClient, headers, programme) -> None:
    change = _propose(client, headers)  # `headers` also holds payments:approve
    refused = _approve_by(client, change["id"], headers)
    assert assert_problem(refused, 403, "someone else must approve")["type"].endswith("/maker-cannot-approve")


def test_the_same_person_twice_counts_once(client: TestClient, headers, checkers, programme) -> None:
    change = _propose(client, headers)
    assert _approve_by(client, change["id"], checkers[0]).json()["approvals"] == 1
    again = _approve_by(client, change["id"], checkers[0])
    assert assert_problem(again, 409, "already approved")["type"].endswith("/already-approved")
    listed = client.get(URL, headers=checkers[1]).json()["items"]
    assert [(c["id"], c["state"], c["approvals"]) for c in listed] == [(change["id"], "pending", 1)]
    assert _rules_of(client, headers) == (programme["eligibility"], programme["entitlement"])


def test_the_rules_apply_at_the_required_count_and_only_to_cycles_built_after(
    client: TestClient, headers, checkers, programme, session: Session
) -> None:
    before = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "before"}, headers=headers).json()
    assert (before["instruction_count"], before["instruction_sum"]) == (1, 7_000)
    change = _propose(client, headers)
    half = _approve_by(client, change["id"], checkers[0]).json()
    assert (half["state"], half["approvals"]) == ("pending", 1)
    assert _rules_of(client, headers) == (programme["eligibility"], programme["entitlement"])

    done = _approve_by(client, change["id"], checkers[1])
    assert done.status_code == 200, done.text
    applied = done.json()
    assert (applied["state"], applied["approvals"], applied["approvals_required"]) == ("approved", 2, 2)
    assert applied["approved_by"].startswith("partner:") and applied["decided_at"] is not None
    assert _rules_of(client, headers) == (applied["eligibility"], {"flat": 6_000, "brackets": [], "per_unit": []})

    after = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "after"}, headers=headers).json()
    assert (after["instruction_count"], after["instruction_sum"]) == (3, 18_000)
    kept = session.execute(
        select(func.count(), func.sum(Instruction.amount)).where(
            Instruction.cycle_id == before["id"], Instruction.state != "unlinked"
        )
    ).one()
    assert tuple(kept) == (1, 7_000)
    assert client.get(URL, headers=checkers[0]).json()["items"] == []
    assert _approve_by(client, change["id"], headers).status_code == 403  # the proposer still comes first
    assert_problem(_approve_by(client, change["id"], checkers[0]), 409, "only a pending change")


def test_registering_the_programme_again_follows_its_rules_in_force(
    client: TestClient, headers, checkers, programme, country: LoadedCountry
) -> None:
    change = _propose(client, headers)
    for checker in checkers:
        assert _approve_by(client, change["id"], checker).status_code == 200
    original = client.post("/payments/programmes", json=programme_body(country), headers=headers)
    assert_problem(original, 409, "already exists with different rules")
    replay = client.post("/payments/programmes", json=programme_body(country, **NEW_RULES), headers=headers)
    assert replay.status_code == 200, replay.text


def test_a_new_proposal_supersedes_the_pending_one(client: TestClient, headers, checkers, programme, session) -> None:
    first = _propose(client, headers)
    assert _approve_by(client, first["id"], checkers[0]).json()["approvals"] == 1
    second = _propose(client, headers, {**NEW_RULES, "entitlement": {"flat": 6_500}})
    refused = _approve_by(client, first["id"], checkers[1])
    assert_problem(refused, 409, "is superseded")
    assert [c["id"] for c in client.get(URL, headers=checkers[0]).json()["items"]] == [second["id"]]
    superseded = client.get(URL, params={"status": "superseded"}, headers=checkers[0]).json()["items"]
    assert [(c["id"], c["approvals"]) for c in superseded] == [(first["id"], 0)]
    live = select(func.count()).where(Approval.action == rule_changes.APPROVAL_ACTION, Approval.voided_at.is_(None))
    assert session.scalar(live) == 0
    voided = session.scalars(select(AuditEvent).where(AuditEvent.action == "approval.voided")).one()
    assert voided.detail["reason"] == "replaced"
    assert _approve_by(client, second["id"], checkers[0]).json()["approvals"] == 1  # the first checker may again


# ---------------------------------------------------------------- the queue


def test_the_queue_pages_through_a_programmes_changes(client: TestClient, headers, checkers, programme) -> None:
    proposed = [_propose(client, headers, {**NEW_RULES, "entitlement": {"flat": 6_000 + n}})["id"] for n in range(5)]
    walk = partial(walk_pages, url=URL)
    assert walk(client, checkers[0], 2, status="superseded") == [proposed[:2], proposed[2:4]]
    assert walk(client, checkers[0], 2) == [proposed[4:]]
    assert_refused_at(client.get(URL, params={"status": "waiting"}, headers=checkers[0]), "query.status")
    assert_refused_at(client.get(URL, params={"limit": 0}, headers=checkers[0]), "query.limit")
    assert assert_problem(client.get(URL, params={"stauts": "pending"}, headers=checkers[0]), 422, "not a parameter")


# ---------------------------------------------------------------- the service: versions, counts, audit


def _rules(flat: int) -> ProgrammeRules:
    return ProgrammeRules((Rule(attribute="age", op=">=", value=21),), Entitlement(flat=flat))


def _proposed(session: Session, ports: Ports, country: LoadedCountry, code: str = "RULES") -> ProgrammeRuleChange:
    programme = enrolled_programme(session, ports, country, count=3, code=code)
    change = rule_changes.propose(session=session, ports=ports, programme=programme, rules=_rules(7), proposer=MAKER)
    session.commit()
    return change


def _approve(session: Session, change: ProgrammeRuleChange, approver: Signatory, required: int = 2):
    programme = session.get_one(Programme, change.programme_id)
    return rule_changes.approve(
        session=session, programme=programme, change=change, approver=approver, required=required
    )


@pytest.mark.parametrize("required", [1, 3])
def test_the_required_number_is_configurable(session: Session, ports, country, required: int) -> None:
    change = _proposed(session, ports, country, code=f"RULES-{required}")
    people = [Signatory(person=f"staff:{n}", actor=f"staff:p{n} (payments.approver)") for n in range(10, 10 + required)]
    tallies = [_approve(session, change, person, required=required) for person in people]
    assert [t.reached for t in tallies] == [False] * (required - 1) + [True]
    assert session.get_one(Programme, change.programme_id).entitlement["flat"] == 7


def test_a_change_of_the_proposed_rules_voids_the_approvals_given(session: Session, ports, country) -> None:
    change = _proposed(session, ports, country)
    assert _approve(session, change, CHECKERS[0]).approvals == 1
    session.commit()
    session.execute(
        update(ProgrammeRuleChange).where(ProgrammeRuleChange.id == change.id).values(entitlement={"flat": 9_999_999})
    )
    session.commit()
    tally = _approve(session, change, CHECKERS[1])  # counts alone: the first approval was of other rules
    assert (tally.approvals, change.state) == (1, "pending")
    assert session.get_one(Programme, change.programme_id).entitlement["flat"] != 9_999_999


def test_the_audit_log_names_the_proposer_and_each_approver_with_their_roles(session: Session, ports, country) -> None:
    change = _proposed(session, ports, country)
    for checker in CHECKERS:
        _approve(session, change, checker)
    session.commit()
    steps = ("payments.programme.rules_proposed", "approval.given", "payments.programme.rules_changed")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(steps)).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [
        ("payments.programme.rules_proposed", MAKER.actor),
        ("approval.given", CHECKERS[0].actor),
        ("approval.given", CHECKERS[1].actor),
        ("payments.programme.rules_changed", CHECKERS[1].actor),
    ]
    assert (events[0].detail["person"], events[0].detail["role"]) == (MAKER.person, "payments.maker")
    changed = events[-1].detail
    assert changed["proposer"] == {"person": MAKER.person, "actor": MAKER.actor, "role": MAKER.role}
    assert changed["approvers"] == [{"person": c.person, "actor": c.actor, "role": c.role} for c in CHECKERS]


# ---------------------------------------------------------------- concurrency (run it on PostgreSQL too)


def _approve_in_own_transaction(engine: Engine, change_id: int, approver: Signatory) -> Callable[[], Any]:
    def call() -> Any:
        with make_session_factory(engine).begin() as own:
            return _approve(own, own.get_one(ProgrammeRuleChange, change_id), approver).approvals

    return call


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_approvals_apply_the_rules_once(
    engine: Engine, session: Session, ports, country, attempt: int
) -> None:
    change = _proposed(session, ports, country, code=f"RULES-RACE-{attempt}")
    results = all_at_once([_approve_in_own_transaction(engine, change.id, p) for p in CONCURRENT_APPROVERS])
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, Problem) and "only a pending change" in r.detail for r in refused), results
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2]
    session.expire_all()
    recorded = session.scalars(select(Approval.person).where(Approval.action == rule_changes.APPROVAL_ACTION)).all()
    assert len(recorded) == 2 and len(set(recorded)) == 2
    assert session.get_one(ProgrammeRuleChange, change.id).state == "approved"
    applied = select(func.count()).where(AuditEvent.action == "payments.programme.rules_changed")
    assert session.scalar(applied) == 1


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_approvals_by_one_person_count_once(
    engine: Engine, session: Session, ports, country, attempt: int
) -> None:
    change = _proposed(session, ports, country, code=f"RULES-SAME-{attempt}")
    results = all_at_once([_approve_in_own_transaction(engine, change.id, CHECKERS[0]) for _ in range(6)])
    assert results.count(1) == 1, results
    assert all(isinstance(r, Problem) and r.kind == "already-approved" for r in results if r != 1), results
    session.expire_all()
    assert session.get_one(ProgrammeRuleChange, change.id).state == "pending"
