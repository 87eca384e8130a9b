"""The payments pages: cycles in the operator console (build, four-eyes approval with the totals
re-entered, disbursement, outcomes, reconciliation) and a resident's own payments in the portal."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ....conftest import STAFF_PASSWORD, form_token
from ....core import staff
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.deps import STAFF_COOKIE
from ....core.i18n import shipped_languages
from ....core.models import AuditEvent
from ....core.money import major_text
from ....core.registry import Ports
from ....core.settings import Settings
from .. import reconciliations
from ..config import PaymentsSettings, payments_settings
from ..models import Cycle, Instruction, InstructionState, WrongControlTotals
from ..reconciliations import Reconciliation, Tally
from ..web.figures import outcomes_figure
from .conftest import approve_by
from .factories import enrolled_programme

pytestmark = pytest.mark.country_independent  # the pages read the profile's currency only, whatever it is

CYCLES = "/console/payments/cycles"
OFFICER, APPROVER, FINANCE = "payments.programme_officer", "payments.approver", "payments.finance_officer"


@pytest.fixture
def two_roles(engine: Engine, settings: Settings) -> Callable[..., dict[str, str]]:
    """A staff member holding several roles at once (a maker who may also approve); their session cookies."""
    accounts = iter(range(1, 1000))

    def sign_in(*roles: str) -> dict[str, str]:
        user_name = f"payments-pages-{next(accounts)}"
        with make_session_factory(engine).begin() as session:
            account = staff.create_account(
                session=session, user_name=user_name, display_name=user_name, password=STAFF_PASSWORD
            )
            for role in roles:
                staff.grant_role(session=session, user_name=user_name, role=role)
            opened = staff.open_session(session=session, account=account, kind="cookie", settings=settings)
        return {STAFF_COOKIE: opened.token}

    return sign_in


def programme_of(session: Session, ports: Ports, country: LoadedCountry, code: str, count: int, linked: int) -> str:
    """An enrolled programme (factories): ages from 10 up, so the first 8 are minors and not paid; adults get
    FLAT, 65+ more; the first `linked` have an account."""
    enrolled_programme(session, ports, country, count=count, code=code, linked=linked)
    session.commit()
    return code


def as_staff(client: TestClient, cookies: dict[str, str]) -> str:
    """Act as this staff member from now on; the CSRF token of the console's forms."""
    client.cookies.update(cookies)
    return form_token(client, CYCLES)


def build(client: TestClient, token: str, programme: str, name: str = "2026-05") -> Any:
    data = {"csrf_token": token, "programme": programme, "name": name, "as_of": "2026-05-31"}
    return client.post(CYCLES, data=data, follow_redirects=False)


def approve(client: TestClient, token: str, cycle_id: int, count: str, total: str) -> Any:
    data = {"csrf_token": token, "control_count": count, "control_sum": total}
    return client.post(f"{CYCLES}/{cycle_id}/approval", data=data, follow_redirects=False)


def major(country: LoadedCountry, minor: int) -> str:
    return major_text(minor, country.profile.currency)


def wrong_attempts(session: Session, cycle_id: int) -> list[int]:
    session.expire_all()
    return list(session.scalars(select(WrongControlTotals.attempts).where(WrongControlTotals.cycle_id == cycle_id)))


def built_cycle_id(session: Session, name: str) -> int:
    session.expire_all()
    return session.scalars(select(Cycle.id).where(Cycle.name == name)).one()


# ---------------------------------------------------------------- end to end


def test_build_approve_twice_disburse_and_see_the_outcomes(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies
) -> None:
    programme = programme_of(session, ports, country, "PAGES-E2E", count=40, linked=36)
    officer = staff_cookies(OFFICER)
    token = as_staff(client, officer)
    built = build(client, token, programme)
    assert built.status_code == 303, built.text
    cycle_id = built_cycle_id(session, "2026-05")
    assert built.headers["location"] == f"{CYCLES}/{cycle_id}"
    cycle = session.get(Cycle, cycle_id)
    count, total = cycle.instruction_count, cycle.instruction_sum
    assert cycle.state == "built" and count > 0 and cycle.made_by_actor.startswith("staff:")

    mine = client.get(f"{CYCLES}/{cycle_id}").text
    assert "someone else must approve it" in mine and "Approve the cycle" not in mine
    assert "<dt>Payments</dt>" in mine and re.search(r"\b0 of 2\b", mine)  # the maker sees what they built

    first = staff_cookies(APPROVER)
    as_staff(client, first)
    page = client.get(f"{CYCLES}/{cycle_id}").text
    assert "Approve the cycle" in page and "Wrong totals you may still enter for this cycle: 3" in page
    assert "<dt>Payments</dt>" not in page and grouped(country, total) not in page, "the approver counts blind"

    # A sum the money rules refuse names the field and is not counted as a wrong guess.
    for bad in ("12,50", "1e3", "-5", "0.0000001", ""):
        refused = approve(client, token, cycle_id, str(count), bad)
        assert refused.status_code == 422 and "Total amount:" in refused.text, bad
    assert "Number of payments:" in approve(client, token, cycle_id, "many", major(country, total)).text
    assert wrong_attempts(session, cycle_id) == []

    wrong = approve(client, token, cycle_id, str(count), major(country, total + 100))
    assert wrong.status_code == 409 and "control totals do not match" in wrong.text
    assert "Wrong totals you may still enter for this cycle: 2" in wrong.text
    assert f'value="{major(country, total + 100)}"' in wrong.text  # the values typed are kept
    assert wrong_attempts(session, cycle_id) == [1]
    session.expire_all()
    assert session.get(Cycle, cycle_id).state == "built"

    assert approve(client, token, cycle_id, str(count), major(country, total)).status_code == 303
    assert re.search(r"\b1 of 2\b", client.get(f"{CYCLES}/{cycle_id}").text)
    again = approve(client, token, cycle_id, str(count), major(country, total))
    assert again.status_code == 409 and "already approved" in again.text

    as_staff(client, staff_cookies(APPROVER))
    assert approve(client, token, cycle_id, str(count), major(country, total)).status_code == 303
    session.expire_all()
    approved = session.get(Cycle, cycle_id)
    assert (approved.state, approved.control_count, approved.control_sum) == ("approved", count, total)

    client.app.dependency_overrides[payments_settings] = lambda: PaymentsSettings(simulated_failure_rate=0.3)  # type: ignore[attr-defined]
    try:
        as_staff(client, staff_cookies(FINANCE))
        assert "Disburse now" in client.get(f"{CYCLES}/{cycle_id}").text
        paid = client.post(f"{CYCLES}/{cycle_id}/disbursement", data={"csrf_token": token}, follow_redirects=False)
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert paid.status_code == 303, paid.text
    session.expire_all()
    assert session.get(Cycle, cycle_id).state == "disbursed"
    report = reconciliations.reconcile(session=session, cycle_id=cycle_id)
    assert report.paid.count > 0 and report.failed.count > 0 and report.paid.count + report.failed.count == count

    page = client.get(f"{CYCLES}/{cycle_id}").text
    done = report.paid.count + report.failed.count
    assert f"{done} of {count} payments finished" in page
    amounts = [grouped(country, t.sum) for t in (report.paid, report.failed)]
    assert all(a in page for a in amounts), amounts
    assert f"/console/payments/cycles/{cycle_id}/outcomes.svg" in page
    chart = client.get(f"{CYCLES}/{cycle_id}/outcomes.svg")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert b"Payments by outcome" in chart.content

    reconciliation = client.get(f"{CYCLES}/{cycle_id}/reconciliation").text
    assert "match the approved control totals" in reconciliation
    assert "instructions?outcome=failed" in reconciliation
    failed = client.get(f"{CYCLES}/{cycle_id}/instructions?outcome=failed").text
    returned = session.scalars(
        select(Instruction.end_to_end_id).where(
            Instruction.cycle_id == cycle_id, Instruction.state == InstructionState.RETURNED
        )
    ).all()
    assert returned and all(f">{e2e}<" in failed for e2e in returned)
    settled = session.scalars(
        select(Instruction.end_to_end_id).where(
            Instruction.cycle_id == cycle_id, Instruction.state == InstructionState.SETTLED
        )
    ).first()
    assert f">{settled}<" not in failed
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.subject == f"cycle:{cycle_id}")))
    assert {"payments.cycle.control-totals-wrong", "payments.cycle.approved", "payments.cycle.funded"} <= actions


def grouped(country: LoadedCountry, minor: int) -> str:
    """An amount's digits as an English page shows them (the currency's symbol aside)."""
    return major_text(minor, country.profile.currency, grouped=True)


def test_the_maker_is_refused_even_holding_the_approver_role(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, two_roles
) -> None:
    programme = programme_of(session, ports, country, "PAGES-MAKER", count=20, linked=20)
    token = as_staff(client, two_roles(OFFICER, APPROVER))
    assert build(client, token, programme).status_code == 303
    cycle_id = built_cycle_id(session, "2026-05")
    cycle = session.get(Cycle, cycle_id)
    assert cycle.instruction_count == 12
    page = client.get(f"{CYCLES}/{cycle_id}").text
    assert "someone else must approve it" in page and "Approve the cycle" not in page
    refused = approve(client, token, cycle_id, str(cycle.instruction_count), major(country, cycle.instruction_sum))
    assert refused.status_code == 403 and f"you made cycle:{cycle_id}: someone else must approve it" in refused.text
    session.expire_all()
    assert session.get(Cycle, cycle_id).state == "built" and wrong_attempts(session, cycle_id) == []


def test_too_many_wrong_totals_and_the_approver_may_no_longer_approve(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies
) -> None:
    programme = programme_of(session, ports, country, "PAGES-GUESS", count=20, linked=20)
    token = as_staff(client, staff_cookies(OFFICER))
    build(client, token, programme)
    cycle_id = built_cycle_id(session, "2026-05")
    cycle = session.get(Cycle, cycle_id)
    as_staff(client, staff_cookies(APPROVER))
    for attempt in (1, 2, 3):
        wrong = approve(client, token, cycle_id, str(cycle.instruction_count + attempt), "1")
        assert wrong.status_code == 409 and f"may still enter for this cycle: {3 - attempt}" in wrong.text
    right = approve(client, token, cycle_id, str(cycle.instruction_count), major(country, cycle.instruction_sum))
    assert right.status_code == 403 and "too many wrong control totals" in right.text
    assert wrong_attempts(session, cycle_id) == [3]


def test_building_refuses_a_bad_name_and_an_unknown_programme_and_writes_nothing(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies
) -> None:
    programme = programme_of(session, ports, country, "PAGES-BUILD", count=20, linked=20)
    token = as_staff(client, staff_cookies(OFFICER))
    bad_name = build(client, token, programme, name="no spaces please")
    assert bad_name.status_code == 422 and "Cycle name:" in bad_name.text
    assert 'value="no spaces please"' in bad_name.text  # the values typed are kept
    unknown = build(client, token, "NO-SUCH-PROGRAMME")
    assert unknown.status_code == 404 and "no programme" in unknown.text
    bad_day = client.post(
        CYCLES, data={"csrf_token": token, "programme": programme, "name": "x", "as_of": "31/05/2026"}
    )
    assert bad_day.status_code == 422 and "Ages counted on:" in bad_day.text
    assert session.scalar(select(func.count()).select_from(Cycle)) == 0


def test_the_list_hides_totals_before_approval_and_pages_with_keyset_cursors(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies
) -> None:
    programme = programme_of(session, ports, country, "PAGES-LIST", count=20, linked=20)
    token = as_staff(client, staff_cookies(OFFICER))
    assert build(client, token, programme, name="first").status_code == 303
    listed = client.get(CYCLES).text
    assert ">first</a>" in listed and "PAGES-LIST" in listed
    cycle = session.get(Cycle, built_cycle_id(session, "first"))
    assert cycle.instruction_sum > 0
    assert grouped(country, cycle.instruction_sum) not in listed
    assert "No cycle is in this state." in client.get(f"{CYCLES}?state=approved").text
    assert client.get(f"{CYCLES}?state=nonsense").status_code == 422


def test_the_failed_instructions_come_a_page_at_a_time(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies, api_headers
) -> None:
    programme = programme_of(session, ports, country, "PAGES-FAIL", count=70, linked=70)
    token = as_staff(client, staff_cookies(OFFICER))
    build(client, token, programme)
    cycle_id = built_cycle_id(session, "2026-05")
    cycle = session.get(Cycle, cycle_id)
    checkers = [api_headers("payments:approve", "payments:read") for _ in range(2)]
    approve_by(client, cycle_id, checkers, cycle.instruction_count, cycle.instruction_sum)
    client.app.dependency_overrides[payments_settings] = lambda: PaymentsSettings(simulated_failure_rate=1.0)  # type: ignore[attr-defined]
    try:
        as_staff(client, staff_cookies(FINANCE))
        client.post(f"{CYCLES}/{cycle_id}/disbursement", data={"csrf_token": token})
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    failed = cycle.instruction_count
    assert failed > 50
    first = client.get(f"{CYCLES}/{cycle_id}/instructions?outcome=failed").text
    cursor = re.search(r'href="\?outcome=failed&amp;after=(\d+)"', first)
    assert cursor and first.count('<th scope="row">G2P-') == 50
    second = client.get(f"{CYCLES}/{cycle_id}/instructions?outcome=failed&after={cursor.group(1)}").text
    assert second.count('<th scope="row">G2P-') == failed - 50 and 'href="?outcome=failed&amp;after=' not in second
    assert (
        "No payment of this cycle has this outcome."
        in client.get(f"{CYCLES}/{cycle_id}/instructions?outcome=paid").text
    )


# ---------------------------------------------------------------- who may do what (roles.py)


def test_each_role_does_only_its_part(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies, api_headers
) -> None:
    programme = programme_of(session, ports, country, "PAGES-ROLES", count=20, linked=20)
    token = as_staff(client, staff_cookies(FINANCE))
    assert build(client, token, programme).status_code == 403  # a finance officer does not build cycles
    assert "Build a cycle" not in client.get(CYCLES).text
    as_staff(client, staff_cookies(OFFICER))
    assert build(client, token, programme).status_code == 303
    cycle_id = built_cycle_id(session, "2026-05")
    cycle = session.get(Cycle, cycle_id)
    totals = (str(cycle.instruction_count), major(country, cycle.instruction_sum))

    as_staff(client, staff_cookies(OFFICER))  # another programme officer: reads, but may not approve
    assert "Approve the cycle" not in client.get(f"{CYCLES}/{cycle_id}").text
    assert approve(client, token, cycle_id, *totals).status_code == 403
    as_staff(client, staff_cookies(FINANCE))
    assert approve(client, token, cycle_id, *totals).status_code == 403

    checkers = [api_headers("payments:approve", "payments:read") for _ in range(2)]
    approve_by(client, cycle_id, checkers, cycle.instruction_count, cycle.instruction_sum)
    for role in (OFFICER, APPROVER):
        as_staff(client, staff_cookies(role))
        assert "Disburse now" not in client.get(f"{CYCLES}/{cycle_id}").text
        assert client.post(f"{CYCLES}/{cycle_id}/disbursement", data={"csrf_token": token}).status_code == 403
    session.expire_all()
    assert session.get(Cycle, cycle_id).state == "approved"


def test_a_built_cycle_has_no_reconciliation_yet_and_an_unknown_one_is_404(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies
) -> None:
    programme = programme_of(session, ports, country, "PAGES-EARLY", count=20, linked=20)
    token = as_staff(client, staff_cookies(OFFICER))
    build(client, token, programme)
    cycle_id = built_cycle_id(session, "2026-05")
    early = client.get(f"{CYCLES}/{cycle_id}/reconciliation")
    assert early.status_code == 409 and "not approved" in early.text
    assert client.get(f"{CYCLES}/{cycle_id}/outcomes.svg").status_code == 409
    as_staff(client, staff_cookies(FINANCE))
    refused = client.post(f"{CYCLES}/{cycle_id}/disbursement", data={"csrf_token": token})
    assert refused.status_code == 409 and "not approved" in refused.text
    assert client.get(f"{CYCLES}/987654").status_code == 404


# ---------------------------------------------------------------- the chart's numbers


def _report(cycle: str, paid: int, failed: int, pending: int) -> Reconciliation:
    nothing = Tally()
    return Reconciliation(
        cycle_id=1,
        programme="CASH",
        cycle=cycle,
        state="disbursing",
        currency="KES",
        envelope=Tally(paid + failed + pending, 0),
        instructions=Tally(paid + failed + pending, 0),
        paid=Tally(paid, paid * 100),
        failed=Tally(failed, failed * 100),
        pending=Tally(pending, pending * 100),
        unlinked=nothing,
        unmatched=nothing,
        returned_to_programme=0,
        not_yet_in_ledger=0,
        funded=True,
        messages={},
    )


def test_the_outcomes_chart_stacks_paid_failed_and_pending_per_cycle() -> None:
    figure = outcomes_figure([_report("2026-04", 90, 7, 0), _report("2026-05", 12, 1, 30)])
    assert figure.kind == "stacked" and figure.labels == ("CASH 2026-04", "CASH 2026-05")
    assert {s.name: s.values for s in figure.series} == {"Paid": (90, 12), "Failed": (7, 1), "Pending": (0, 30)}


# ---------------------------------------------------------------- the resident's own payments (identity installed)


def test_a_resident_sees_only_their_payments_and_downloads_their_records(
    client: TestClient, session: Session, paid_residents, resident_cookies
) -> None:
    cycle_id = paid_residents["cycle"]
    references = dict(
        session.execute(
            select(Instruction.beneficiary_key, Instruction.end_to_end_id).where(Instruction.cycle_id == cycle_id)
        ).all()
    )
    assert len(references) == 2
    client.cookies.update(resident_cookies(paid_residents["amina"]))
    page = client.get("/me/payments")
    assert page.status_code == 200 and "Resident pages" in page.text and "Direct transfer" in page.text
    shown = set(re.findall(r'href="/me/payments/([^"]+)\.pdf"', page.text))
    assert len(shown) == 2 and "PAGES/DIRECT-1" in shown
    others = set(references.values()) - shown
    assert len(others) == 1, "the other resident's payment is not listed"
    for reference in shown:
        record = client.get(f"/me/payments/{reference}.pdf")
        assert record.status_code == 200 and record.content.startswith(b"%PDF")
        assert record.headers["content-type"] == "application/pdf"
    assert client.get(f"/me/payments/{others.pop()}.pdf").status_code == 404  # paid someone else: as unknown
    assert client.get("/me/payments/NO-SUCH-PAYMENT.pdf").status_code == 404


def test_the_payments_pages_need_their_callers(client: TestClient, staff_cookies) -> None:
    """Without a session: the console's sign-in; a staff member is no resident."""
    assert client.get(CYCLES, follow_redirects=False).headers["location"].startswith("/console/sign-in?next=")
    client.cookies.update(staff_cookies(APPROVER))
    assert client.get("/me/payments", follow_redirects=False).status_code in (303, 404)


def test_the_console_pages_speak_every_shipped_language(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, staff_cookies, api_headers
) -> None:
    programme = programme_of(session, ports, country, "PAGES-LANG", count=20, linked=20)
    token = as_staff(client, staff_cookies(OFFICER))
    build(client, token, programme)
    cycle_id = built_cycle_id(session, "2026-05")
    cycle = session.get(Cycle, cycle_id)
    checkers = [api_headers("payments:approve", "payments:read") for _ in range(2)]
    approve_by(client, cycle_id, checkers, cycle.instruction_count, cycle.instruction_sum)
    as_staff(client, staff_cookies(FINANCE))
    client.post(f"{CYCLES}/{cycle_id}/disbursement", data={"csrf_token": token})
    pages = (CYCLES, f"{CYCLES}/{cycle_id}", f"{CYCLES}/{cycle_id}/reconciliation", f"{CYCLES}/{cycle_id}/instructions")
    for language in shipped_languages():
        for path in pages:
            answer = client.get(path, headers={"Accept-Language": language})
            assert answer.status_code == 200, (language, path)
            assert f'lang="{language}' in answer.text, (language, path)
    french = client.get(f"{CYCLES}/{cycle_id}", headers={"Accept-Language": "fr"}).text
    assert "Avancement et résultats" in french and "Paiements par résultat" in french
