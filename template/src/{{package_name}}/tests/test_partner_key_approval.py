"""Four-eyes on partner keys: a key holding a scope that moves money works only once enough people
other than its requester approved it; keys without such scopes work at once."""

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ..app import create_app
from ..cli import app
from ..core import security
from ..core.approvals import Signatory
from ..core.db import make_engine, make_session_factory
from ..core.errors import Problem
from ..core.models import Approval, AuditEvent
from ..core.registry import installed_modules, money_scopes
from ..core.settings import get_settings
from ..core.system import META_SCOPE

pytestmark = [pytest.mark.selection, pytest.mark.country_independent]

PAY = "test:pay"
ALICE = Signatory(person="operator:alice", actor="operator:alice")
BOB, CAROL, DAN = (Signatory.operator(name) for name in ("bob", "carol", "dan"))
runner = CliRunner()


@pytest.fixture(autouse=True)
def money(monkeypatch: pytest.MonkeyPatch) -> None:
    """The money scopes of a module the test pretends is installed (the core has none of its own)."""
    monkeypatch.setattr(security, "money_scopes", lambda: frozenset({PAY, META_SCOPE}))


def _issue(session: Session, *scopes: str) -> security.IssuedKey:
    return security.issue_partner_key(session=session, name="Bank", scopes=scopes, requester=ALICE)


def _approve(session: Session, partner_id: int, approver: Signatory, required: int = 2):
    return security.approve_partner_key(session=session, partner_id=partner_id, approver=approver, required=required)


def _works(session: Session, key: str) -> bool:
    try:
        security.authenticate(session=session, key=key)
    except security.AuthenticationFailed:
        return False
    return True


def test_every_module_declares_money_scopes_among_its_own_scopes() -> None:
    for module in installed_modules():
        assert set(module.money_scopes) <= set(module.scopes), module.name
    assert money_scopes() == {scope for module in installed_modules() for scope in module.money_scopes}


def test_a_key_without_money_scopes_works_at_once(session: Session) -> None:
    issued = _issue(session, "test:read")
    assert not issued.partner.awaiting_approval
    assert _works(session, issued.key)


def test_a_key_with_a_money_scope_waits_for_two_other_people(session: Session) -> None:
    issued = _issue(session, "test:read", PAY)
    assert issued.partner.awaiting_approval
    with pytest.raises(security.AuthenticationFailed, match="awaits its approvals"):
        security.authenticate(session=session, key=issued.key)
    first = _approve(session, issued.partner.id, BOB)
    assert (first.approvals, first.reached, _works(session, issued.key)) == (1, False, False)
    second = _approve(session, issued.partner.id, CAROL)
    assert (second.approvals, second.reached, _works(session, issued.key)) == (2, True, True)


def test_the_requester_cannot_approve_under_any_role(session: Session) -> None:
    issued = _issue(session, PAY)
    with pytest.raises(Problem) as refused:
        _approve(session, issued.partner.id, Signatory.operator("alice"))
    assert (refused.value.kind, refused.value.status) == ("maker-cannot-approve", 403)
    assert session.scalars(select(Approval)).all() == []


def test_one_person_cannot_approve_twice(session: Session) -> None:
    issued = _issue(session, PAY)
    _approve(session, issued.partner.id, BOB)
    with pytest.raises(Problem) as twice:
        _approve(session, issued.partner.id, Signatory(person=BOB.person, actor="operator:bob (other)", role="x"))
    assert (twice.value.kind, twice.value.status) == ("already-approved", 409)


@pytest.mark.parametrize("required", [1, 3])
def test_the_required_number_is_configurable(session: Session, required: int) -> None:
    issued = _issue(session, PAY)
    reached = [_approve(session, issued.partner.id, who, required).reached for who in (BOB, CAROL, DAN)[:required]]
    assert reached == [False] * (required - 1) + [True]
    assert _works(session, issued.key)
    with pytest.raises(Problem, match="awaits no approval"):
        _approve(session, issued.partner.id, Signatory.operator("erin"), required)


def test_a_rotation_voids_the_approvals_given_to_the_old_key(session: Session) -> None:
    issued = _issue(session, PAY)
    _approve(session, issued.partner.id, BOB)
    rotated = security.rotate_partner_key(session=session, partner_id=issued.partner.id, actor="operator:alice")
    after = _approve(session, issued.partner.id, CAROL)
    assert (after.approvals, after.reached, _works(session, rotated.key)) == (1, False, False)
    assert len(session.scalars(select(Approval).where(Approval.voided_at.is_not(None))).all()) == 1


def test_the_audit_names_the_requester_and_each_approver(session: Session) -> None:
    issued = _issue(session, PAY)
    for approver in (BOB, CAROL):
        _approve(session, issued.partner.id, approver)
    steps = ("partner.created", "approval.given", "partner.approved")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(steps)).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [
        ("partner.created", "operator:alice"),
        ("approval.given", BOB.actor),
        ("approval.given", CAROL.actor),
        ("partner.approved", CAROL.actor),
    ]
    assert events[0].detail["money_scopes"] == [PAY]
    assert [e.detail["person"] for e in events[1:3]] == ["operator:bob", "operator:carol"]
    assert [a["person"] for a in events[-1].detail["approvers"]] == ["operator:bob", "operator:carol"]


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(cli_on_test_database: Path) -> Path:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return cli_on_test_database


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_the_cli_creates_a_waiting_key_and_approves_it_as_named_operators(cli_env: Path) -> None:
    created = _invoke("partner", "create", "--name", "Bank", "--scope", META_SCOPE, "--actor", "alice")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert "holds a scope that moves money" in created.output
    (listed,) = json.loads(_invoke("partner", "list", "--json").stdout)
    assert listed["awaiting_approval"] is True
    partner_id = str(listed["id"])
    assert _invoke("partner", "approve", partner_id, "--as", "alice").exit_code == 1  # the requester
    first = _invoke("partner", "approve", partner_id, "--as", "bob")
    assert "1 of 2 approvals" in first.output
    with TestClient(create_app(get_settings()), headers={"Accept-Language": "en"}) as api:
        assert api.get("/meta", headers={"X-API-Key": key}).status_code == 401
        second = _invoke("partner", "approve", partner_id, "--as", "carol")
        assert "approved: its key works" in second.output
        assert api.get("/meta", headers={"X-API-Key": key}).status_code == 200
    engine = make_engine(os.environ["DATABASE_URL"])
    try:
        with make_session_factory(engine)() as session:
            actors = session.scalars(
                select(AuditEvent.actor).where(AuditEvent.action == "approval.given").order_by(AuditEvent.id)
            ).all()
    finally:
        engine.dispose()
    assert [actor.split(" ")[0] for actor in actors] == ["operator:bob", "operator:carol"]
