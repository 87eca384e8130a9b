"""The loans pages: a resident applies in the portal and sees their loans with schedules (identity
installed); officers decide held applications four-eyes, read a loan and chart the portfolio."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....conftest import form_token
from ....core.country import LoadedCountry
from ....core.ports import Disbursements, SectorTokens
from ....core.registry import Ports
from ..ageing import BUCKET_NAMES
from ..models import Application, Loan
from ..web.figures import BUCKETS
from .helpers import (
    APPLICATIONS,
    APPLY,
    HOME,
    IBAN,
    MANAGER,
    OFFICER,
    PORTFOLIO,
    a_product,
    a_resident,
    applicant,
    create_product,
    loan_of,
    typed,
)

if TYPE_CHECKING:  # fixtures' types, for annotations only
    from .helpers import ApplyingResident, HeldApplication

pytestmark = pytest.mark.selection  # the resident pages need identity; the form adapts to payments


# ---------------------------------------------------------------- helpers


def act_as(client: TestClient, cookies: dict[str, str], path: str) -> str:
    """Act as this person from now on; the CSRF token of the forms on `path`."""
    client.cookies.clear()
    client.cookies.update(cookies)
    return form_token(client, path)


def apply_form(ports: Ports, token: str, product: str, principal: str, **extra: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "product": product,
        "principal": principal,
        "consent": "yes",
        "reference": f"web-{secrets.token_hex(8)}",
    }
    if not ports.provides(Disbursements):
        form["account"] = IBAN
    return form | extra


# ---------------------------------------------------------------- the resident


def test_a_resident_applies_on_the_form_and_sees_the_loan_its_schedule_and_what_is_owed(
    client: TestClient, session: Session, country: LoadedCountry, ports: Ports, applying_resident: ApplyingResident
) -> None:
    product = applying_resident.product
    token = act_as(client, applying_resident.cookies, APPLY)
    form = client.get(APPLY).text
    assert f'<option value="{product}"' in form
    assert ('name="account"' in form) == (not ports.provides(Disbursements)), "an account only without payments"

    sent = apply_form(ports, token, product, typed(country, 120_000))
    response = client.post("/me/loans/applications", data=sent, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == HOME
    again = client.post("/me/loans/applications", data=sent, follow_redirects=False)
    assert again.status_code == 303
    applications = session.scalars(select(Application)).all()
    assert len(applications) == 1, "the same form sent twice makes one application"
    application = applications[0]
    assert application.state == "disbursed" and application.channel == "portal"
    assert application.consent == f"resident-portal:{sent['reference']}"
    assert application.made_by.startswith("resident:") and applying_resident.national_id not in application.made_by
    loan = loan_of(session, application.reference)

    page = client.get(HOME)
    assert page.status_code == 200 and loan.reference in page.text
    rows = re.findall(r'<tr>\s*<th scope="row">\d+</th>', page.text)
    assert len(rows) == 12, "each instalment of the schedule"


def test_a_refused_application_form_keeps_the_values_and_names_the_field(
    client: TestClient, session: Session, country: LoadedCountry, ports: Ports, applying_resident: ApplyingResident
) -> None:
    product = applying_resident.product
    token = act_as(client, applying_resident.cookies, APPLY)
    refused = client.post("/me/loans/applications", data=apply_form(ports, token, product, "12,50"))
    assert refused.status_code == 422 and 'id="principal-error"' in refused.text and 'value="12,50"' in refused.text
    no_consent = apply_form(ports, token, product, typed(country, 120_000))
    del no_consent["consent"]
    refused = client.post("/me/loans/applications", data=no_consent)
    assert refused.status_code == 422 and 'id="consent-error"' in refused.text
    unknown = client.post("/me/loans/applications", data=apply_form(ports, token, "NO-SUCH", typed(country, 120_000)))
    assert unknown.status_code == 404 and 'id="product-error"' in unknown.text
    assert not session.scalars(select(Application)).all()


def test_outside_the_products_limits_the_resident_sees_the_reason(
    client: TestClient, session: Session, country: LoadedCountry, ports: Ports, applying_resident: ApplyingResident
) -> None:
    product = applying_resident.product
    token = act_as(client, applying_resident.cookies, APPLY)
    client.post("/me/loans/applications", data=apply_form(ports, token, product, typed(country, 100)))
    application = session.scalars(select(Application)).one()
    assert application.state == "rejected"
    page = client.get(HOME).text
    assert application.reference in page and "outside the product" in page


def test_a_resident_sees_only_their_own_loans(
    client: TestClient,
    session: Session,
    country: LoadedCountry,
    ports: Ports,
    api_headers,
    staff_headers,
    resident_cookies,
) -> None:
    product = a_product(client, staff_headers, country)
    loans = {}
    for name in ("first", "second"):
        national_id = a_resident(client, api_headers, ports)
        token = act_as(client, resident_cookies(national_id), APPLY)
        client.post("/me/loans/applications", data=apply_form(ports, token, product, typed(country, 120_000)))
        made = session.scalars(select(Application).order_by(Application.id.desc())).first()
        loans[name] = (national_id, loan_of(session, made.reference).reference)
    act_as(client, resident_cookies(loans["first"][0]), HOME)
    page = client.get(HOME).text
    assert loans["first"][1] in page and loans["second"][1] not in page


def test_the_forms_refuse_a_post_without_the_csrf_token(
    client: TestClient,
    session: Session,
    country: LoadedCountry,
    ports: Ports,
    api_headers,
    staff_cookies,
    resident_cookies,
    held_application: HeldApplication,
) -> None:
    reference = held_application.reference
    act_as(client, staff_cookies(OFFICER), APPLICATIONS)
    assert client.post(f"{APPLICATIONS}/{reference}/approve").status_code == 403
    assert client.post(f"{APPLICATIONS}/{reference}/reject", data={"reason": "no"}).status_code == 403
    if ports.provides(SectorTokens):
        act_as(client, resident_cookies(a_resident(client, api_headers, ports)), APPLY)
        form = apply_form(ports, "", held_application.product, typed(country, 120_000))
        del form["csrf_token"]
        assert client.post("/me/loans/applications", data=form).status_code == 403
    session.expire_all()
    assert session.scalars(select(Application).where(Application.reference == reference)).one().state == (
        "awaiting_approval"
    )


# ---------------------------------------------------------------- the console


def test_a_held_application_is_decided_by_a_second_officer_never_its_submitter(
    client: TestClient, session: Session, staff_cookies, held_application: HeldApplication
) -> None:
    reference = held_application.reference
    page = f"{APPLICATIONS}/{reference}"

    token = act_as(client, held_application.maker, APPLICATIONS)
    assert f'href="{page}"' in client.get(APPLICATIONS).text
    assert "/approve" not in client.get(page).text, "its submitter is shown no decision form"
    refused = client.post(f"{page}/approve", data={"csrf_token": token})
    assert refused.status_code == 403, "the service refuses the submitter"
    session.expire_all()
    assert session.scalars(select(Application).where(Application.reference == reference)).one().state == (
        "awaiting_approval"
    )

    token = act_as(client, staff_cookies(MANAGER), page)
    assert client.post(f"{page}/approve", data={"csrf_token": token}).status_code == 403, "loans:decide is needed"

    token = act_as(client, staff_cookies(OFFICER), page)
    decided = client.post(f"{page}/approve", data={"csrf_token": token}, follow_redirects=False)
    assert decided.status_code == 303 and decided.headers["location"] == page
    loan = loan_of(session, reference)
    shown = client.get(page).text
    assert f'href="/console/loans/accounts/{loan.reference}"' in shown
    assert reference not in client.get(APPLICATIONS).text, "no longer waiting"
    loan_page = client.get(f"/console/loans/accounts/{loan.reference}")
    assert loan_page.status_code == 200 and len(re.findall(r'<tr>\s*<th scope="row">\d+</th>', loan_page.text)) == 12


def test_a_held_application_is_rejected_with_a_reason(
    client: TestClient, session: Session, staff_cookies, held_application: HeldApplication
) -> None:
    reference = held_application.reference
    page = f"{APPLICATIONS}/{reference}"
    token = act_as(client, staff_cookies(OFFICER), page)
    empty = client.post(f"{page}/reject", data={"csrf_token": token, "reason": "  "})
    assert empty.status_code == 422 and 'id="reason-error"' in empty.text
    client.post(f"{page}/reject", data={"csrf_token": token, "reason": "Income not proven"})
    session.expire_all()
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    assert (application.state, application.reasons) == ("rejected", ["Income not proven"])


def test_each_console_page_needs_its_scope_and_its_region(
    client: TestClient, staff_cookies, held_application: HeldApplication
) -> None:
    reference = held_application.reference
    pages = [
        APPLICATIONS,
        f"{APPLICATIONS}/{reference}",
        PORTFOLIO,
        f"{PORTFOLIO}/arrears.svg",
        f"{PORTFOLIO}/disbursed.svg",
    ]
    client.cookies.clear()
    for path in pages:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/console/sign-in"), path
    for role in (OFFICER, MANAGER):
        act_as(client, staff_cookies(role), "/console")
        for path in pages:
            assert client.get(path).status_code == 200, (role, path)
    act_as(client, staff_cookies("core.auditor"), "/console")
    for path in pages:
        assert client.get(path).status_code == 403, path
    act_as(client, staff_cookies(OFFICER, "Nowhere"), "/console")
    assert reference not in client.get(APPLICATIONS).text
    assert client.get(f"{APPLICATIONS}/{reference}").status_code == 403, "a record without a region: unlimited roles"


def test_the_portfolio_charts_outstanding_by_arrears_bucket_and_loans_per_month(
    client: TestClient,
    session: Session,
    country: LoadedCountry,
    ports: Ports,
    api_headers,
    staff_headers,
    staff_cookies,
) -> None:
    manager = staff_headers(MANAGER)
    product = create_product(client, manager, instalments=2, annual_rate="0", fee_rate="0", fee_flat=0)
    officer = staff_headers(OFFICER)
    made = []
    for principal in (50_000, 70_000):
        body = {"product": product, "principal": principal, **applicant(client, api_headers, ports)}
        response = client.post("/loans/applications", json=body, headers=officer)
        made.append(response.json()["loan"])
    late = session.scalars(select(Loan).where(Loan.reference == made[1])).one()
    late.position.unpaid_from = date.today() - timedelta(days=40)
    session.commit()

    assert list(BUCKETS) == list(BUCKET_NAMES), "each bucket the portfolio counts has its label"

    act_as(client, staff_cookies(MANAGER), PORTFOLIO)
    page = client.get(PORTFOLIO)
    assert page.status_code == 200
    for chart in ("arrears", "disbursed"):
        assert f'src="{PORTFOLIO}/{chart}.svg"' in page.text
        image = client.get(f"{PORTFOLIO}/{chart}.svg")
        assert image.status_code == 200 and image.headers["content-type"].startswith("image/svg+xml")
    assert f'href="/console/loans/accounts/{made[1]}"' in page.text and made[0] not in page.text
