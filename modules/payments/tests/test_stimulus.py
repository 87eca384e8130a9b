"""A means-tested stimulus over the population register: fakes of identity's and tax's ports, then the real ones;
its cycle is approved under four-eyes like any other, at the CLI too."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date

import pytest
from click.testing import Result
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....core.db import make_session_factory
from ....core.errors import Conflict, Unprocessable
from ....core.models import AuditEvent, utcnow
from ....core.money import Money
from ....core.ports import AssessedIncome, Resident, ResidentRegistry, SectorTokens
from ....core.runtime import Runtime
from .. import programme_service, reconciliations
from ..config import PaymentsSettings
from ..domain import ProgrammeTerms
from ..models import AccountLink, Cycle, CycleState, Instruction, Transfer
from ..rails import SimulatedBank
from ..schemas import ProgrammeIn
from ..stimulus import StimulusPlan, pay_stimulus, prepare_stimulus
from .factories import MAKER, approve_by_checkers, assert_paid_exactly_once

YEAR = 2025
THRESHOLD = 500_000
RESIDENTS = 3  # linked adults of the fake register the stimulus command pays
AMOUNT = 10_000
runner = CliRunner()


class FakeRegistry:
    def __init__(self, residents: list[Resident]) -> None:
        self.residents = residents

    def iter_residents(self, *, session: Session, batch_size: int = 1000) -> Iterator[Resident]:
        yield from sorted(self.residents, key=lambda r: r.national_id)


class FakeIncome:
    def __init__(self, incomes: Mapping[str, Money]) -> None:
        self.incomes = incomes
        self.calls: list[int] = []

    def incomes_for(self, *, session: Session, national_ids: Sequence[str], year: int) -> Mapping[str, Money]:
        self.calls.append(year)
        return {n: self.incomes[n] for n in national_ids if n in self.incomes}


class FakeTokens:
    def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
        return hashlib.sha256(f"{sector}:{national_id}".encode()).hexdigest()[:32]


class FakePorts:
    def __init__(self, by_port: dict) -> None:
        self.by_port = by_port

    def get(self, port):
        return self.by_port.get(port)


def _adult(i: int) -> Resident:
    return Resident(national_id=f"{1_000_000_000 + i}", date_of_birth=date(1990, 1, 1), sex="F", address={})


def _link(session: Session, residents: list[Resident]) -> None:
    """A bank account for each resident, under the beneficiary key the stimulus gives them."""
    now = utcnow()
    tokens = FakeTokens()
    rows = [
        {
            "beneficiary_key": "token:"
            + tokens.token_for(session=session, national_id=r.national_id, sector="payments"),
            "kind": "bank_account",
            "number": f"{2_000_000_000 + n}",
            "bank_code": "TESTBANK",
            "linked_at": now,
            "updated_at": now,
        }
        for n, r in enumerate(residents)
    ]
    session.execute(insert(AccountLink), rows)


def _transfers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Transfer))


def _prepare(session, ports, country, plan: StimulusPlan):
    return prepare_stimulus(
        session=session,
        ports=ports,
        country=country,
        plan=plan,
        funding_account="TREASURY",
        chunk_size=7,
        maker=MAKER,
        as_of=date(2026, 1, 1),
    )


def _stimulus(session, ports, country, *, include_unassessed: bool = False):
    plan = StimulusPlan(
        year=YEAR,
        amount=Money(country.profile.currency, 10_000),
        max_income=THRESHOLD,
        adults_only=True,
        include_unassessed=include_unassessed,
    )
    cycle = _prepare(session, ports, country, plan)
    approve_by_checkers(session, cycle)
    session.commit()
    report = pay_stimulus(
        session_factory=make_session_factory(session.get_bind()),
        cycle_id=cycle.id,
        currency=country.profile.currency,
        rail=SimulatedBank(),
        settings=PaymentsSettings(),
        actor="test",
    )
    assert report.matches_control_totals and report.state == "disbursed"
    session.expire_all()
    return cycle


def test_a_means_tested_stimulus_pays_adults_under_the_threshold(session: Session, country) -> None:
    currency = country.profile.currency
    residents, incomes = [], {}
    for i in range(40):
        national_id = f"{1_000_000_000 + i}"
        born = date(2000, 1, 1) if i % 4 else date(2015, 1, 1)  # every fourth is a child
        residents.append(Resident(national_id=national_id, date_of_birth=born, sex="F" if i % 2 else "M", address={}))
        if i % 5:  # every fifth has no assessment
            incomes[national_id] = Money(currency, 100_000 if i % 3 else 900_000)
    tokens = FakeTokens()
    income_port = FakeIncome(incomes)
    ports = FakePorts({ResidentRegistry: FakeRegistry(residents), AssessedIncome: income_port, SectorTokens: tokens})
    _link(session, residents)
    cycle = _stimulus(session, ports, country)
    expected = {
        f"token:{tokens.token_for(session=session, national_id=f'{1_000_000_000 + i}', sector='payments')}"
        for i in range(40)
        if i % 4 and i % 5 and i % 3
    }
    paid = set(session.scalars(select(Instruction.beneficiary_key).where(Instruction.cycle_id == cycle.id)))
    assert paid == expected
    assert set(income_port.calls) == {YEAR}
    assert_paid_exactly_once(session, cycle.id)
    report = reconciliations.reconcile(session=session, cycle_id=cycle.id)
    assert report.matches_control_totals and report.paid == reconciliations.Tally(len(expected), 10_000 * len(expected))


@pytest.mark.selection  # partners present or absent change what it checks
def test_with_the_real_identity_and_tax_modules(session: Session, ports, country, client, api_headers) -> None:
    if ports.get(ResidentRegistry) is None or ports.get(AssessedIncome) is None:
        pytest.skip("needs the identity and tax modules")
    from .conftest import enrol_person

    national_id = enrol_person(client, api_headers)
    headers = api_headers("payments:link")
    linked = client.post(
        "/payments/accounts",
        json={
            "beneficiary": {"national_id": national_id},
            "account": {"kind": "bank_account", "number": "1234567890", "bank_code": "BANK1"},
        },
        headers=headers,
    )
    assert linked.status_code == 201, linked.text
    cycle = _stimulus(session, ports, country, include_unassessed=True)  # the new resident has no assessment yet
    report = reconciliations.reconcile(session=session, cycle_id=cycle.id)
    assert report.paid.count >= 1 and report.matches_control_totals
    lines = client.post(
        "/payments/residents/payments/query",
        json={"beneficiary": {"national_id": national_id}},
        headers=api_headers("payments:read"),
    ).json()
    assert [(line["programme"], line["state"]) for line in lines] == [(f"STIMULUS-{YEAR}", "settled")]


def test_a_stimulus_out_of_bounds_is_a_problem_naming_the_field(session: Session, ports, country) -> None:
    plan = StimulusPlan(year=YEAR, amount=Money(country.profile.currency, 2**53))
    with pytest.raises(Unprocessable) as refused:
        _prepare(session, ports, country, plan)
    assert refused.value.field == "flat"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "stimulus 2025"}, "code"),
        ({"max_income": 2**53}, "eligibility"),
        ({"year": 1800, "max_income": 1}, "income_year"),
    ],
)
def test_each_figure_of_a_plan_out_of_bounds_is_refused_naming_the_programme_field(
    session: Session, country, changes: dict, field: str
) -> None:
    plan = StimulusPlan(**{"year": YEAR, "amount": Money(country.profile.currency, 1000), **changes})
    ports = FakePorts({ResidentRegistry: FakeRegistry([]), AssessedIncome: FakeIncome({})})
    with pytest.raises(Unprocessable) as refused:
        _prepare(session, ports, country, plan)
    assert refused.value.field == field


def test_a_stimulus_registers_the_programme_the_api_would_register_for_it(session: Session, country) -> None:
    """The same terms, so the same request hash: posting the programme afterwards is a replay, not a conflict."""
    currency = country.profile.currency
    ports = FakePorts({ResidentRegistry: FakeRegistry([]), AssessedIncome: FakeIncome({}), SectorTokens: FakeTokens()})
    plan = StimulusPlan(year=YEAR, amount=Money(currency, 10_000), max_income=THRESHOLD, adults_only=True)
    _prepare(session, ports, country, plan)
    body = ProgrammeIn.model_validate(
        {
            "code": f"STIMULUS-{YEAR}",
            "name": f"Stimulus payment {YEAR}",
            "currency": currency,
            "source": "registry",
            "eligibility": [
                {"attribute": "age", "op": ">=", "value": 18},
                {"attribute": "assessed_income", "op": "<", "value": THRESHOLD, "if_missing": "ineligible"},
            ],
            "entitlement": {"flat": 10_000},
            "income_year": YEAR,
        }
    )
    replayed = programme_service.create_programme(
        session=session, ports=ports, country=country, terms=ProgrammeTerms.of(body), actor="test"
    )
    assert not replayed.created


# ---------------------------------------------------------------- four-eyes: the stimulus waits for its approvers


def test_a_prepared_stimulus_awaits_its_approvers_and_pays_nobody(session: Session, country) -> None:
    currency = country.profile.currency
    residents = [_adult(i) for i in range(RESIDENTS)]
    ports = FakePorts({ResidentRegistry: FakeRegistry(residents), SectorTokens: FakeTokens()})
    _link(session, residents)
    cycle = _prepare(session, ports, country, StimulusPlan(year=YEAR, amount=Money(currency, 10_000)))
    session.commit()
    assert (cycle.state, cycle.made_by, cycle.instruction_count) == (CycleState.BUILT, MAKER.person, 3)
    with pytest.raises(Conflict, match="not approved"):
        pay_stimulus(
            session_factory=make_session_factory(session.get_bind()),
            cycle_id=cycle.id,
            currency=currency,
            rail=SimulatedBank(),
            settings=PaymentsSettings(),
            actor="test",
        )
    assert _transfers(session) == 0


@pytest.fixture
def stimulus_command(
    session: Session, monkeypatch: pytest.MonkeyPatch, cli_on_test_database
) -> Callable[[str], Result]:
    """`payments stimulus --as NAME` over three linked adults of a fake register, whatever modules are installed."""
    residents = [_adult(i) for i in range(RESIDENTS)]
    _link(session, residents)
    session.commit()
    fakes = FakePorts({ResidentRegistry: FakeRegistry(residents), SectorTokens: FakeTokens()})
    monkeypatch.setattr(Runtime, "ports", fakes)  # the CLI builds its own runtime: it gets the fakes too
    arguments = ["payments", "stimulus", "--amount", str(AMOUNT), "--year", str(YEAR)]

    def run(maker: str) -> Result:
        result = runner.invoke(stack_cli, [*arguments, "--as", maker])
        session.expire_all()
        return result

    return run


def _said(result: Result) -> str:
    """What the command printed, its lines joined as one (the console wraps long messages)."""
    return " ".join(result.output.split())


def _approve_command(result: Result) -> list[str]:
    """The approval command the stimulus printed, as arguments, with `<approver>` to fill in."""
    (line,) = [line for line in result.output.splitlines() if line.startswith("payments approve ")]
    return shlex.split(line)


def _approve_as(command: list[str], approver: str) -> Result:
    return runner.invoke(stack_cli, [approver if argument == "<approver>" else argument for argument in command])


def test_the_stimulus_command_pays_nobody_before_its_approvals_and_says_what_to_run(
    session: Session, stimulus_command
) -> None:
    result = stimulus_command("alice")
    assert result.exit_code == 0, result.output
    cycle = session.scalars(select(Cycle)).one()
    assert (cycle.state, cycle.made_by) == (CycleState.BUILT, "operator:alice")
    assert f"cycle {cycle.id} waits for 2 approvals by people other than operator:alice" in _said(result)
    assert _approve_command(result) == [
        "payments",
        "approve",
        "--cycle",
        str(cycle.id),
        "--control-count",
        str(RESIDENTS),
        "--control-sum",
        str(RESIDENTS * AMOUNT),
        "--as",
        "<approver>",
    ]
    assert "run this stimulus again" in _said(result)
    assert set(session.scalars(select(Instruction.state))) == {"pending"}
    assert _transfers(session) == 0


def test_two_approvers_other_than_the_maker_then_a_rerun_pay_everyone_exactly_once(
    session: Session, stimulus_command
) -> None:
    approve = _approve_command(stimulus_command("alice"))
    for approver in ("amina", "juma"):
        approved = _approve_as(approve, approver)
        assert approved.exit_code == 0, approved.output
    paid = stimulus_command("alice")
    assert paid.exit_code == 0, paid.output
    assert "reconciliation matches the control totals" in _said(paid)
    cycle = session.scalars(select(Cycle)).one()
    assert cycle.state == CycleState.DISBURSED
    assert_paid_exactly_once(session, cycle.id)
    again = stimulus_command("alice")  # the same programme and cycle: nothing is paid twice
    assert again.exit_code == 0 and "reconciliation matches the control totals" in _said(again), again.output
    assert_paid_exactly_once(session, cycle.id)
    steps = ("payments.cycle.built", "approval.given", "payments.cycle.approved")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(steps)).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor.split(" ")[0]) for e in events] == [
        ("payments.cycle.built", "operator:alice"),
        ("approval.given", "operator:amina"),
        ("approval.given", "operator:juma"),
        ("payments.cycle.approved", "operator:juma"),
    ]


def test_the_maker_cannot_approve_their_own_stimulus(session: Session, stimulus_command) -> None:
    approve = _approve_command(stimulus_command("alice"))
    refused = _approve_as(approve, "alice")
    assert refused.exit_code == 1 and "someone else must approve it" in _said(refused), refused.output
    assert _approve_as(approve, "amina").exit_code == 0
    waiting = stimulus_command("alice")
    assert waiting.exit_code == 0, waiting.output
    assert "waits for 1 approval by someone other than operator:alice" in _said(waiting)
    assert session.scalars(select(Cycle.state)).one() == CycleState.BUILT
    assert _transfers(session) == 0


def test_a_stimulus_changed_after_its_approvals_is_not_paid(session: Session, stimulus_command) -> None:
    approve = _approve_command(stimulus_command("alice"))
    for approver in ("amina", "juma"):
        assert _approve_as(approve, approver).exit_code == 0
    session.execute(update(Instruction).where(Instruction.end_to_end_id.like("%-1")).values(amount=AMOUNT * 100))
    session.commit()
    refused = stimulus_command("alice")
    assert refused.exit_code == 1 and "changed after it was approved" in _said(refused), refused.output
    assert _transfers(session) == 0
