"""The loans pages in a real browser (tests/browser.py): headless Chromium as a 360 px phone.

Each page a journey reaches passes `Browser.check`: no WCAG 2.2 AA fault axe-core finds, under
60 KB over the wire, no sideways scrolling. The assertions read the page's structure and the
database, not its words, so the journeys pass in any language; amounts are typed in the country's
currency.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.ports import Disbursements
from ....core.registry import Ports
from ....tests.browser import Browser
from ..models import Application, Loan
from .helpers import APPLICATIONS, HOME, IBAN, MANAGER, OFFICER, PORTFOLIO, loan_of, typed

if TYPE_CHECKING:  # fixtures' types, for annotations only
    from .helpers import ApplyingResident, HeldApplication

pytestmark = pytest.mark.browser


def act_as(browser: Browser, cookies: dict[str, str]) -> None:
    browser.clear_cookies()
    browser.add_cookies(cookies)


def type_into(browser: Browser, css: str, text: str) -> None:
    field = browser.find(css)
    field.clear()
    field.send_keys(text)


def image_loaded(browser: Browser, css: str) -> bool:
    return browser.driver.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", browser.find(css)
    )


def test_a_resident_applies_and_sees_the_loan_with_its_schedule(
    browser: Browser, session: Session, country: LoadedCountry, ports: Ports, applying_resident: ApplyingResident
) -> None:
    """`applying_resident` skips without identity (national IDs, resident sessions)."""
    act_as(browser, applying_resident.cookies)
    browser.open("/me")
    browser.follow(browser.find(f'main a[href="{HOME}"]'))
    assert browser.path == HOME
    browser.check()  # no loan yet

    browser.follow(browser.find(f'main a[href="{HOME}/apply"]'))
    browser.check()
    type_into(browser, "#principal", "12,50")  # no amount by the money rules: said at the field, nothing applied for
    browser.find("#consent").click()
    if ports.get(Disbursements) is None:
        type_into(browser, "#account", IBAN)
    browser.follow(browser.find("main form.stack button"))
    field = browser.find("#principal")
    assert field.get_attribute("aria-invalid") == "true" and field.get_attribute("value") == "12,50"
    assert not session.scalars(select(Application)).all()
    browser.check()

    type_into(browser, "#principal", typed(country, 120_000))
    assert browser.find("#consent").is_selected(), "the consent given is kept"
    browser.follow(browser.find("main form.stack button"))
    assert browser.path == HOME
    application = session.scalars(select(Application)).one()
    assert application.product_code == applying_resident.product and application.principal == 120_000
    loan = loan_of(session, application.reference)
    assert browser.find(f'main section h2[id="loan-{loan.reference}"]')
    assert len(browser.find_all("main section table tbody tr")) == 12, "the schedule's instalments"
    browser.check()


def test_an_officer_decides_a_held_application_and_reads_the_portfolio_chart(
    browser: Browser, session: Session, staff_cookies, held_application: HeldApplication
) -> None:
    reference = held_application.reference
    act_as(browser, staff_cookies(OFFICER))
    browser.open("/console")
    browser.follow(browser.find(f'.menu a[href="{APPLICATIONS}"]'))
    browser.check()
    browser.follow(browser.find(f'main table a[href="{APPLICATIONS}/{reference}"]'))
    browser.check()
    browser.follow(browser.find('main form[action$="/approve"] button'))
    loan = loan_of(session, reference)
    browser.check()
    browser.follow(browser.find(f'main dl.record a[href="/console/loans/accounts/{loan.reference}"]'))
    assert len(browser.find_all("main table tbody tr")) >= 12
    browser.check()

    late = session.get(Loan, loan.id)
    late.position.unpaid_from = date.today() - timedelta(days=12)
    session.commit()
    act_as(browser, staff_cookies(MANAGER))
    browser.open("/console")
    browser.follow(browser.find(f'.menu a[href="{PORTFOLIO}"]'))
    assert browser.path == PORTFOLIO
    for chart in ("arrears", "disbursed"):
        assert image_loaded(browser, f'main figure.chart img[src="{PORTFOLIO}/{chart}.svg"]'), chart
    tables = browser.find_all("main .table-scroll table")
    assert len(tables) == 3, "the numbers of each chart, and the late loans"
    browser.check()
    browser.follow(browser.find(f'main table a[href="/console/loans/accounts/{loan.reference}"]'))
    browser.check()
