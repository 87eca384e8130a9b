"""Servicing: early repayment, restructuring, write-off, the statement and the portfolio, by API and services."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ....core.db import make_session_factory
from ....core.errors import Conflict
from ....core.models import AuditEvent
from ....core.registry import Ports
from .. import accrual, ageing, servicing
from ..models import Accrual, Loan
from ..service import current_schedule, get_loan, owed
from .servicing_helpers import (
    ACTOR,
    book_problems,
    charge_penalties,
    context_for,
    instalments,
    make_loan,
    payments_ledger_problems,
    product,
    set_accrued,
)

pytestmark = pytest.mark.selection  # the applicant and the money's path depend on the partner modules

NO_FEES = {"fee_rate": "0", "fee_flat": 0}


@pytest.fixture
def officer(staff_headers) -> dict[str, str]:
    return staff_headers("loans.loan_officer")


@pytest.fixture
def manager(staff_headers) -> dict[str, str]:
    return staff_headers("loans.portfolio_manager")


@pytest.fixture
def context(session: Session, country, ports: Ports, runtime):
    return context_for(session, country, ports, runtime)


def test_the_payoff_is_principal_accrued_interest_and_fees_and_the_rest_is_rebated(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session, context
) -> None:
    code = product(client, manager, annual_rate="0.12", instalments=6, fee_rate="0", fee_flat=300)
    reference = make_loan(client, api_headers, ports, officer, code, 60_000)
    loan = get_loan(session=session, reference=reference)
    set_accrued(session, loan, 250)  # what the daily accrual earned so far
    session.commit()

    quote = client.get(f"/loans/accounts/{reference}/payoff", headers=officer)
    assert quote.status_code == 200, quote.text
    body = quote.json()
    assert (body["principal"], body["interest"], body["fees"], body["penalties"]) == (60_000, 250, 300, 0)
    assert body["total"] == 60_550 and body["rebate"] > 0

    paid = client.post(f"/loans/accounts/{reference}/payoff", headers=manager)
    assert paid.status_code == 200, paid.text
    assert paid.json()["kind"] == "early_repayment" and paid.json()["amount"] == 60_550
    again = client.post(f"/loans/accounts/{reference}/payoff", headers=manager)
    assert again.json() == paid.json(), "paid once"
    after = client.get(f"/loans/accounts/{reference}", headers=officer).json()
    assert after["state"] == "closed" and not any(after["owed"].values())
    assert all(i["settled_on"] for i in after["schedule"])
    assert client.get(f"/loans/accounts/{reference}/payoff", headers=officer).status_code == 409

    statement = client.get(f"/loans/accounts/{reference}/statement", headers=officer).json()
    last = statement["events"][-1]
    assert last["lines"]["income:interest"] == body["rebate"]
    assert last["lines"]["receivable:interest"] == -(body["rebate"] + 250)
    assert last["balances"] == {"fees": 0, "penalties": 0, "interest": 0, "principal": 0}
    session.expire_all()
    closed = get_loan(session=session, reference=reference)
    assert book_problems(session, closed) == []
    assert payments_ledger_problems(session, ports) == []
    assert [owed(i) for i in current_schedule(session, closed)] == [
        dict.fromkeys(("fees", "penalties", "interest", "principal"), 0)
    ] * 6, "the rebated interest is owed by no instalment"


def test_accrued_interest_already_paid_is_not_asked_again(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session, context
) -> None:
    code = product(client, manager, annual_rate="0.12", instalments=4, **NO_FEES)
    reference = make_loan(client, api_headers, ports, officer, code, 40_000)
    loan = get_loan(session=session, reference=reference)
    first = instalments(session, loan, 1)[0]
    due = first.principal + first.interest
    session.commit()
    assert (
        client.post(
            f"/loans/accounts/{reference}/repayments", json={"amount": due, "payment_reference": "P1"}, headers=manager
        ).status_code
        == 200
    )
    session.expire_all()
    loan = get_loan(session=session, reference=reference)
    second = instalments(session, loan, 1)[1]
    position = loan.position
    assert (position.unpaid_from, position.last_settled_on) == (second.due_on, date.today()), "the position moved on"
    set_accrued(session, loan, first.interest - 1)  # less earned than paid: nothing accrued is owed
    assert servicing.quote(context=context, reference=reference, today=date.today()).interest == 0
    set_accrued(session, loan, first.interest + 75)
    quote = servicing.quote(context=context, reference=reference, today=date.today())
    assert quote.interest == 75 and quote.principal == 40_000 - first.principal
    session.rollback()


def test_restructuring_reschedules_the_principal_and_waives_the_old_instalments(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session, context
) -> None:
    code = product(client, manager, annual_rate="0.24", instalments=6, fee_flat=400, fee_rate="0")
    reference = make_loan(client, api_headers, ports, officer, code, 90_000)
    loan = get_loan(session=session, reference=reference)
    late = instalments(session, loan, 1)[0].due_on + timedelta(days=10)
    assert charge_penalties(context, loan, late) > 0
    set_accrued(session, loan, 900)
    session.commit()

    response = client.post(f"/loans/accounts/{reference}/restructure", json={"instalments": 12}, headers=manager)
    assert response.status_code == 200, response.text
    restructured = response.json()
    assert len(restructured["schedule"]) == 12
    assert sum(i["principal"] for i in restructured["schedule"]) == 90_000
    first = restructured["schedule"][0]
    assert first["fees"] == 400 and first["penalties"] > 0, "what was owed falls due with the first new instalment"
    assert restructured["owed"]["interest"] == sum(i["interest"] for i in restructured["schedule"])
    session.expire_all()
    loan = get_loan(session=session, reference=reference)
    assert loan.schedule_version == 2 and loan.terms["instalments"] == 12
    assert all(i.waived > 0 for i in instalments(session, loan, 1))
    assert book_problems(session, loan) == []

    refused = client.post(f"/loans/accounts/{reference}/restructure", json={"instalments": 0}, headers=manager)
    assert refused.status_code == 422, "an instalment count outside 1..520 is schema-invalid"


def test_after_a_restructuring_interest_is_earned_over_the_new_first_period_from_the_restructuring_day(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session, context, engine: Engine
) -> None:
    code = product(client, manager, annual_rate="0.24", instalments=6, **NO_FEES)
    reference = make_loan(client, api_headers, ports, officer, code, 120_000)
    loan = get_loan(session=session, reference=reference)
    disbursed, old_first = loan.disbursed_on, instalments(session, loan, 1)[0]
    factory = make_session_factory(engine)

    def accrue(first: date, last: date) -> None:
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            accrual.run_worker(session_factory=factory, day=day, rounding=context.rounding, chunk_size=1_000)

    restructured_on = disbursed + timedelta(days=10)
    accrue(disbursed + timedelta(days=1), restructured_on)
    earned = accrual.accrued_interest(session, loan.id)
    assert earned == accrual.earned_through(old_first.interest, disbursed, old_first.due_on, restructured_on) > 0
    servicing.restructure(context=context, reference=reference, instalments=4, actor=ACTOR, today=restructured_on)
    session.commit()
    loan = get_loan(session=session, reference=reference)
    assert (loan.schedule_from, loan.carried_interest) == (restructured_on, earned)
    first = instalments(session, loan, 2)[0]
    position = loan.position
    assert (position.unpaid_from, position.last_settled_on, position.period_due) == (first.due_on, None, None), "new"
    period = first.interest - earned  # the new schedule's own interest for its first period
    assert period > 0

    accrue(restructured_on + timedelta(days=1), first.due_on)
    rows = dict(session.execute(select(Accrual.day, Accrual.interest).where(Accrual.loan_id == loan.id)).all())
    for days in (1, 7, (first.due_on - restructured_on).days):
        through = restructured_on + timedelta(days=days)
        since = sum(interest for day, interest in rows.items() if restructured_on < day <= through)
        assert since == accrual.earned_through(period, restructured_on, first.due_on, through), days
    assert accrual.accrued_interest(session, loan.id) == earned + period, "the carried interest is not earned twice"
    quote = servicing.quote(context=context, reference=reference, today=first.due_on)
    assert quote.interest == earned + period


def test_a_write_off_moves_everything_owed_to_the_expense_and_is_audited(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session
) -> None:
    code = product(client, manager)
    reference = make_loan(client, api_headers, ports, officer, code, 30_000)
    owed = client.get(f"/loans/accounts/{reference}", headers=officer).json()["owed"]
    response = client.post(f"/loans/accounts/{reference}/write-off", json={"reason": "borrower died"}, headers=manager)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "written_off" and not any(response.json()["owed"].values())
    statement = client.get(f"/loans/accounts/{reference}/statement", headers=officer).json()
    assert statement["events"][-1]["kind"] == "written_off"
    assert statement["events"][-1]["lines"]["expense:write_off"] == sum(owed.values())
    audited = session.scalars(
        select(AuditEvent).where(
            AuditEvent.subject == f"loan:{reference}", AuditEvent.action == "loans.loan.written_off"
        )
    ).one()
    assert audited.detail["reason"] == "borrower died"
    for path, body in (("write-off", {"reason": "again"}), ("restructure", {"instalments": 3}), ("payoff", None)):
        again = client.post(f"/loans/accounts/{reference}/{path}", json=body, headers=manager)
        assert again.status_code == 409, (path, again.text)
    repaid = client.post(
        f"/loans/accounts/{reference}/repayments", json={"amount": 100, "payment_reference": "LATE"}, headers=manager
    )
    assert repaid.status_code == 409


def test_an_unknown_loan_is_404_and_a_reader_cannot_change_one(
    client: TestClient, api_headers, ports: Ports, officer, manager
) -> None:
    missing = "LN-000000000000"
    assert client.get(f"/loans/accounts/{missing}/statement", headers=officer).status_code == 404
    assert client.post(f"/loans/accounts/{missing}/payoff", headers=manager).status_code == 404
    code = product(client, manager)
    reference = make_loan(client, api_headers, ports, officer, code, 20_000)
    refused = client.post(f"/loans/accounts/{reference}/write-off", json={"reason": "x"}, headers=officer)
    assert refused.status_code == 403


def test_the_portfolio_counts_principal_at_risk_and_the_repayment_rate(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session, context, staff_headers
) -> None:
    before = servicing.portfolio(context=context, today=date.today())
    code = product(client, manager, instalments=4, annual_rate="0", **NO_FEES)
    on_time = make_loan(client, api_headers, ports, officer, code, 40_000)
    late_30 = make_loan(client, api_headers, ports, officer, code, 80_000)
    late_90 = make_loan(client, api_headers, ports, officer, code, 120_000)
    for reference, days in ((late_30, 45), (late_90, 120)):
        get_loan(session=session, reference=reference).position.unpaid_from = date.today() - timedelta(days=days)
    session.commit()
    assert (
        client.post(
            f"/loans/accounts/{on_time}/repayments", json={"amount": 10_000, "payment_reference": "A"}, headers=manager
        ).status_code
        == 200
    )
    after = client.get("/loans/portfolio", headers=officer)
    assert after.status_code == 200, after.text
    found = after.json()
    assert found["active_loans"] == before.active_loans + 3
    assert found["outstanding_principal"] == before.outstanding_principal + 240_000 - 10_000
    assert found["at_risk_30"] == before.at_risk_30 + 200_000
    assert found["at_risk_90"] == before.at_risk_90 + 120_000
    assert found["par30"] is not None

    in_one_region = staff_headers("loans.loan_officer", "Region A")
    get_loan(session=session, reference=late_30).region = "Region A"
    session.commit()
    mine = client.get("/loans/portfolio", headers=in_one_region).json()
    assert (mine["active_loans"], mine["outstanding_principal"], mine["at_risk_30"]) == (1, 80_000, 80_000), (
        "an officer of one region sees that region's loans only"
    )

    later = date.today() + timedelta(days=40)  # each loan's first instalment (10,000, 20,000, 30,000) is due
    portfolio = servicing.portfolio(context=context, today=later)
    assert portfolio.due_to_date >= 60_000 and portfolio.paid_to_date >= 10_000
    assert portfolio.repayment_rate is not None and 0 < portfolio.repayment_rate < 1


def test_the_portfolio_counts_what_is_owed_by_arrears_bucket_loans_per_month_and_lists_the_late_loans(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session, context
) -> None:
    code = product(client, manager, instalments=2, annual_rate="0", **NO_FEES)
    make_loan(client, api_headers, ports, officer, code, 50_000)
    late = make_loan(client, api_headers, ports, officer, code, 70_000)
    loan = get_loan(session=session, reference=late)
    loan.position.unpaid_from = date.today() - timedelta(days=40)
    session.commit()

    found = servicing.portfolio(context=context, today=date.today())
    owed_by_bucket = found.outstanding_by_bucket
    assert list(owed_by_bucket) == list(ageing.BUCKET_NAMES), "every bucket, zero when empty"
    assert owed_by_bucket["current"] == 50_000 and owed_by_bucket["31-60"] == 70_000
    assert list(found.disbursed_by_month) == servicing.month_starts(date.today())
    assert found.disbursed_by_month[date.today().replace(day=1)] == 2
    assert [(listed.reference, listed.days_past_due) for listed in found.late] == [(late, 40)]

    elsewhere = servicing.portfolio(context=context, today=date.today(), regions=frozenset({"Nowhere"}))
    assert elsewhere.outstanding_by_bucket["31-60"] == 0 and not elsewhere.late
    assert elsewhere.active_loans == 0 and not any(elsewhere.disbursed_by_month.values())


def test_month_starts_cross_the_year() -> None:
    starts = servicing.month_starts(date(2025, 2, 17), 4)
    assert starts == [date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]


def test_a_state_refusal_leaves_the_loan_as_it_was(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session, context
) -> None:
    code = product(client, manager)
    reference = make_loan(client, api_headers, ports, officer, code, 25_000)
    servicing.write_off(context=context, reference=reference, reason="fraud", actor=ACTOR, today=date.today())
    session.commit()
    with pytest.raises(Conflict):
        servicing.restructure(context=context, reference=reference, instalments=3, actor=ACTOR, today=date.today())
    session.rollback()
    loan = session.scalars(select(Loan).where(Loan.reference == reference)).one()
    assert loan.schedule_version == 1 and book_problems(session, loan) == []


def test_the_commands_write_off_show_a_statement_the_portfolio_and_apply_bank_credits(
    client: TestClient, api_headers, ports: Ports, officer, manager, settings, monkeypatch, tmp_path, country
) -> None:
    from typer.testing import CliRunner

    from ....core import runtime as core_runtime
    from .. import cli
    from .fuzzing import Entry, camt054

    build = core_runtime.build_runtime
    monkeypatch.setattr(core_runtime, "build_runtime", lambda: build(settings))
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")
    monkeypatch.setenv("COLUMNS", "240")  # the statement's table whole, not wrapped
    code = product(client, manager, instalments=2, annual_rate="0", **NO_FEES)
    paid, lost = (make_loan(client, api_headers, ports, officer, code, 20_000) for _ in range(2))
    runner = CliRunner()
    file = tmp_path / "camt054.xml"
    file.write_bytes(camt054([Entry("CLI-1", 10_000, country.profile.currency, paid)]))
    credited = runner.invoke(cli.app, ["bank-credits", str(file)])
    assert credited.exit_code == 0, credited.output
    assert "1 applied" in credited.output
    written = runner.invoke(cli.app, ["write-off", lost, "--reason", "absconded", "--as", "amina"])
    assert written.exit_code == 0, written.output
    assert "written_off" in written.output
    again = runner.invoke(cli.app, ["write-off", lost, "--reason", "absconded", "--as", "amina"])
    assert again.exit_code == 1 and "written_off" in again.output
    shown = runner.invoke(cli.app, ["statement", paid])
    assert shown.exit_code == 0 and "repayment" in shown.output
    assert runner.invoke(cli.app, ["portfolio"]).exit_code == 0
