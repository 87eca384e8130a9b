"""The tax pages in a real browser (tests/browser.py): headless Chromium as a 360 px phone.

Each page a journey reaches passes `Browser.check`: no WCAG 2.2 AA fault axe-core finds, under
60 KB over the wire, no sideways scrolling. The assertions read the page's structure and the
database, not its words, so the journeys pass in any language. They read the country's law and
currency (amounts typed in its decimals: JOD has three), so they run in Jordan's stack too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.ports import Disbursements
from ....core.registry import Ports
from ....tests.browser import Browser
from .. import objections, service
from ..models import AccountEntry, Assessment, Objection
from .helpers import a_year
from .test_pages_tax import (
    BRACKETS,
    IBAN,
    OBJECTIONS,
    OBJECTIONS_OFFICER,
    OFFICER,
    TAXPAYERS,
    a_taxpayer,
    assessed,
    high_income,
    typed,
)

pytestmark = pytest.mark.browser

HOME = "/me/tax"


def act_as(browser: Browser, cookies: dict[str, str]) -> None:
    browser.clear_cookies()
    browser.add_cookies(cookies)


def type_into(browser: Browser, css: str, text: str) -> None:
    field = browser.find(css)
    field.clear()
    field.send_keys(text)


def trace_steps(browser: Browser) -> list[str]:
    """The step names of the trace table on the page (the first column), in order."""
    return [cell.text for cell in browser.find_all("main .table-scroll table tbody th[scope=row]")]


def current_assessment(session: Session, tin: str) -> Assessment:
    session.expire_all()
    return session.scalars(select(Assessment).where(Assessment.tin == tin, Assessment.state == "current")).one()


def assert_right_to_left(browser: Browser) -> None:
    html = browser.find("html")
    assert (html.get_attribute("lang") or "").startswith("ar") and html.get_attribute("dir") == "rtl"


def image_loaded(browser: Browser, css: str) -> bool:
    return browser.driver.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", browser.find(css)
    )


def browser_cookies(browser: Browser) -> str:
    return "; ".join(f"{cookie['name']}={cookie['value']}" for cookie in browser.driver.get_cookies())


# ---------------------------------------------------------------- the resident (identity installed)


def test_a_resident_files_amends_pays_objects_and_downloads_the_record(
    browser: Browser,
    client: TestClient,
    session: Session,
    country: LoadedCountry,
    ports: Ports,
    residents: dict[str, Any],
    resident_cookies,
    api_headers,
) -> None:
    """`residents` skips without identity (national IDs, resident sessions)."""
    me = residents["akinyi"]
    year, income = a_year(country), high_income(country)
    law = service.income_tax_law(country=country)
    act_as(browser, resident_cookies(me["national_id"]))
    browser.open("/me")
    browser.follow(browser.find(f'main a[href="{HOME}"]'))
    assert browser.path == HOME
    browser.check()  # registered, nothing filed yet

    browser.follow(browser.find(f'main a[href="{HOME}/returns/new"]'))
    browser.check()
    type_into(browser, "#year", str(year))
    type_into(browser, "#income", "12,50")  # no amount by the money rules: said at the field, nothing filed
    browser.follow(browser.find("main form.stack button"))
    assert_refused_at(browser, "income", "12,50")
    assert not session.scalars(select(Assessment).where(Assessment.tin == me["tin"])).all()
    browser.check()
    type_into(browser, "#income", typed(country, income))
    browser.follow(browser.find("main form.stack button"))
    filed = current_assessment(session, me["tin"])
    assert browser.path == f"{HOME}/assessments/{filed.id}"
    own = law.calculate(income=income, year=year)
    assert (filed.taxable, filed.tax_due) == (own.taxable, own.tax_due)
    assert trace_steps(browser) == [step["step"] for step in filed.trace], "the trace the assessment keeps"
    browser.check()

    payments = ports.get(Disbursements) is not None
    browser.follow(browser.find(f'main a[href="{HOME}"]'))
    if payments:
        linked = client.post(
            "/payments/accounts",
            json={"beneficiary": {"national_id": me["national_id"]}, "account": {"kind": "iban", "number": IBAN}},
            headers=api_headers("payments:link"),
        )
        assert linked.status_code == 201, linked.text
        browser.open(HOME)  # the form's reference is drawn afresh
        owed = filed.tax_due + filed.penalty
        assert browser.find("#amount").get_attribute("value") == typed(country, owed), "the balance, to pay"
        browser.check()
        browser.follow(browser.find(f'main form[action="{HOME}/payment"] button'))
        assert browser.path == HOME
        session.expire_all()
        paid = session.scalars(select(AccountEntry).where(AccountEntry.tin == me["tin"], AccountEntry.kind == "paid"))
        assert [entry.amount for entry in paid] == [-owed]
    else:
        assert not browser.find_all(f'main form[action="{HOME}/payment"]')
        told = [paragraph.text for paragraph in browser.find_all("main p")]
        assert any(me["tin"] in text for text in told), "how to pay, quoting the TIN"
    browser.check()

    browser.follow(browser.find(f'main a[href="{HOME}/returns/{year}/amendment"]'))
    browser.check()
    type_into(browser, "#income", typed(country, income // 3))
    browser.follow(browser.find("main form.stack button"))
    amended = current_assessment(session, me["tin"])
    assert amended.id != filed.id and browser.path == f"{HOME}/assessments/{amended.id}"
    assert amended.tax_due == law.calculate(income=income // 3, year=year).tax_due
    assert trace_steps(browser) == [step["step"] for step in amended.trace]
    browser.check()

    if payments:  # paid in full, then assessed lower: a credit, refunded to the linked account
        browser.open(HOME)
        browser.check()
        browser.follow(browser.find(f'main form[action="{HOME}/refund"] button'))
        assert browser.path == HOME
        session.expire_all()
        refunded = session.scalars(
            select(AccountEntry).where(AccountEntry.tin == me["tin"], AccountEntry.kind == "refunded")
        ).one()
        assert refunded.amount > 0 and refunded.channel == "payments"
        browser.check()

    browser.open(f"{HOME}/assessments/{amended.id}")
    type_into(browser, "#grounds", "My employer counted a bonus twice.")
    type_into(browser, "#claimed_income", typed(country, income // 4))
    browser.follow(browser.find(f'main form[action="{HOME}/assessments/{amended.id}/objection"] button'))
    assert browser.path == f"{HOME}/assessments/{amended.id}"
    objection = session.scalars(select(Objection).where(Objection.assessment_id == amended.id)).one()
    assert (objection.state, objection.claimed_income) == ("lodged", income // 4)
    assert "My employer counted a bonus twice." in browser.find("main dl.record:last-of-type").text
    assert not browser.find_all("main form.stack"), "one open objection at a time"
    browser.check()

    # A download is no page: fetch the link as the browser would, with its cookies.
    record = browser.find(f'main a[href="{HOME}/assessments/{amended.id}.pdf"]').get_attribute("href")
    answer = httpx.get(record, headers={"Cookie": browser_cookies(browser)})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")


def assert_refused_at(browser: Browser, name: str, value: str) -> None:
    """The form came back with the error under the field `name`, linked to it, and the value typed kept."""
    error = browser.find(f"#{name}-error")
    assert error.is_displayed() and error.get_attribute("class") == "error"
    field = browser.find(f"#{name}")
    assert field.get_attribute("aria-invalid") == "true"
    assert f"{name}-error" in (field.get_attribute("aria-describedby") or "").split()
    assert field.get_attribute("value") == value
    assert browser.find_all('main [role="alert"]'), "the refusal is announced"


def focused(browser: Browser) -> WebElement:
    return browser.driver.switch_to.active_element


def tab_to(browser: Browser, css: str, most: int = 40) -> WebElement:
    """Press Tab until the element matching `css` has the focus; each control on the way shows its focus."""
    keys = ActionChains(browser.driver)
    wanted = browser.find(css)
    for _ in range(most):
        keys.send_keys(Keys.TAB).perform()
        element = focused(browser)
        described = (element.tag_name, element.get_attribute("id") or element.get_attribute("href") or "")
        assert element.value_of_css_property("outline-style") != "none", f"the focus is visible on {described}"
        if element == wanted:
            return element
    raise AssertionError(f"Tab never reached {css}")


def test_a_resident_files_a_return_with_the_keyboard_alone(
    browser: Browser, session: Session, country: LoadedCountry, residents: dict[str, Any], resident_cookies
) -> None:
    """From the account page to the assessment: Tab, typing, Enter and Space only, never a click."""
    me = residents["akinyi"]
    year, income = a_year(country), high_income(country)
    act_as(browser, resident_cookies(me["national_id"]))
    browser.open(HOME)
    keys = ActionChains(browser.driver)
    keys.send_keys(Keys.TAB).perform()
    assert focused(browser).get_attribute("class") == "skip", "the first stop skips to the page"
    assert focused(browser).value_of_css_property("outline-style") != "none"

    tab_to(browser, f'main a[href="{HOME}/returns/new"]')
    with browser.next_page():
        keys.send_keys(Keys.ENTER).perform()
    assert browser.path == f"{HOME}/returns/new"

    tab_to(browser, "#year")  # prefilled with last year: replaced
    keys.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(str(year)).perform()
    tab_to(browser, "#income")
    keys.send_keys(typed(country, income)).perform()
    ActionChains(browser.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert focused(browser).get_attribute("id") == "year", "Shift+Tab goes back to the year"
    assert focused(browser).get_attribute("value") == str(year)
    tab_to(browser, "#income")
    tab_to(browser, "main form.stack button")
    with browser.next_page():
        keys.send_keys(Keys.SPACE).perform()

    filed = current_assessment(session, me["tin"])
    assert browser.path == f"{HOME}/assessments/{filed.id}"
    assert (filed.year, filed.tax_due) == (
        year,
        service.income_tax_law(country=country).calculate(income=income, year=year).tax_due,
    )
    assert trace_steps(browser)
    browser.check()


def test_a_resident_page_in_arabic_runs_right_to_left(
    browser: Browser, session: Session, country: LoadedCountry, residents: dict[str, Any], resident_cookies
) -> None:
    me = residents["akinyi"]
    assessed(session, country, me["tin"], high_income(country))
    act_as(browser, {"lang": "ar", **resident_cookies(me["national_id"])})
    browser.open(HOME)
    assert browser.path == HOME and me["tin"] in browser.find("main dl.record").text
    assert_right_to_left(browser)
    browser.check()


# ---------------------------------------------------------------- the console (any stack with tax)


def test_an_officer_searches_the_register_and_reads_an_assessments_trace(
    browser: Browser, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    wanjiru = a_taxpayer(session, country, "Wanjiru Otieno")
    a_taxpayer(session, country, "Baraka Mwangi")
    assessment = assessed(session, country, wanjiru.tin, high_income(country))
    act_as(browser, staff_cookies(OFFICER))
    browser.open("/console")
    browser.follow(browser.find(f'.menu a[href="{TAXPAYERS}"]'))
    assert browser.path == TAXPAYERS
    assert len(browser.find_all("main table tbody tr")) == 2
    browser.check()

    for search in (wanjiru.tin, "otieno"):
        type_into(browser, "#q", search)
        browser.follow(browser.find("main form.filters button"))
        rows = browser.find_all("main table tbody tr")
        assert [row.find_element("css selector", "th").text for row in rows] == [wanjiru.tin], search
        browser.check()

    browser.follow(browser.find(f'main table a[href="{TAXPAYERS}/{wanjiru.tin}"]'))
    assert browser.path == f"{TAXPAYERS}/{wanjiru.tin}"
    browser.check()
    browser.follow(browser.find(f'main table a[href="/console/tax/assessments/{assessment.id}"]'))
    assert trace_steps(browser) == [step["step"] for step in assessment.trace]
    browser.check()


def test_two_objections_officers_decide_an_objection_its_lodger_may_not(
    browser: Browser, session: Session, country: LoadedCountry, staff_cookies, several_roles
) -> None:
    taxpayer = a_taxpayer(session, country, "Objecting Taxpayer")
    assessment = assessed(session, country, taxpayer.tin, high_income(country))
    lodger = several_roles(OFFICER, OBJECTIONS_OFFICER)  # lodges and may decide: refused as the maker all the same
    act_as(browser, lodger)
    browser.open(f"/console/tax/assessments/{assessment.id}")
    type_into(browser, "#grounds", "Income counted twice.")
    browser.follow(browser.find("main form.stack button"))
    objection = session.scalars(select(Objection).where(Objection.assessment_id == assessment.id)).one()
    page = f"{OBJECTIONS}/{objection.id}"
    assert browser.path == page
    assert browser.find_all("main .notice") and not browser.find_all("main form"), "someone else must decide it"
    browser.check()

    first = staff_cookies(OBJECTIONS_OFFICER)
    act_as(browser, first)
    browser.open("/console")
    browser.follow(browser.find(f'.menu a[href="{OBJECTIONS}"]'))
    browser.check()
    browser.follow(browser.find(f'main table a[href="{page}"]'))
    browser.check()
    browser.follow(browser.find(f'main form[action="{page}/review"] button'))
    session.expire_all()
    assert session.get(Objection, objection.id).state == "under_review"
    browser.check()

    decided_income = high_income(country) // 2
    decide(browser, "12,5")  # no amount by the money rules: said at the field, nothing approved
    assert_refused_at(browser, "income", "12,5")
    browser.check()
    decide(browser, typed(country, decided_income))
    assert browser.path == page
    session.expire_all()
    pending = objections.pending_decisions(session=session, objection=session.get(Objection, objection.id))
    assert [(p.decision.income, p.approvals) for p in pending] == [(decided_income, 1)]
    assert len(browser.find_all("main ul li")) == 1, "the decision with its approvals so far"
    assert session.get(Objection, objection.id).state == "under_review"
    browser.check()

    act_as(browser, lodger)
    browser.open(page)
    assert not browser.find_all("main form.stack"), "the lodger has no decision form"

    act_as(browser, staff_cookies(OBJECTIONS_OFFICER))
    browser.open(page)
    decide(browser, typed(country, decided_income))
    session.expire_all()
    decided = session.get(Objection, objection.id)
    assert (decided.state, decided.decided_income) == ("partially_allowed", decided_income)
    replaced = service.income_tax_law(country=country).calculate(income=decided_income, year=assessment.year)
    assert session.get(Assessment, decided.new_assessment_id).tax_due == replaced.tax_due
    new_page = f"/console/tax/assessments/{decided.new_assessment_id}"
    browser.check()
    browser.follow(browser.find(f'main dl.record a[href="{new_page}"]'))
    assert trace_steps(browser)
    browser.check()


def decide(browser: Browser, income: str) -> None:
    """One officer's approval of a partial allowance at `income` (as typed), through the objection page's form."""
    browser.find("#outcome-partially_allowed").click()
    type_into(browser, "#income", income)
    type_into(browser, "#note", "Half of it proven.")
    browser.follow(browser.find('main form[action$="/decision"] button'))


def test_the_brackets_chart_loads_with_its_numbers(
    browser: Browser, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    year = a_year(country)
    taxpayer = a_taxpayer(session, country, "Top Bracket")
    assessed(session, country, taxpayer.tin, high_income(country), year)
    act_as(browser, staff_cookies(OFFICER))
    browser.open("/console")
    browser.follow(browser.find(f'.menu a[href="{BRACKETS}"]'))
    type_into(browser, "#year", str(year))
    browser.follow(browser.find("main form.filters button"))
    assert browser.path == f"{BRACKETS}?year={year}"
    assert image_loaded(browser, f'main figure.chart img[src="{BRACKETS}.svg?year={year}"]')
    counts = [int(cell.text) for cell in browser.find_all("main .table-scroll table tbody td")]
    brackets = service.income_tax_law(country=country).scale_in_force(year)
    assert counts == [0] * len(brackets) + [1], "one assessment, in the top bracket"
    browser.check()


def test_a_console_page_in_arabic_runs_right_to_left(
    browser: Browser, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    taxpayer = a_taxpayer(session, country, "Arabic Reader")
    assessment = assessed(session, country, taxpayer.tin, high_income(country))
    act_as(browser, {"lang": "ar", **staff_cookies(OFFICER)})
    browser.open(f"/console/tax/assessments/{assessment.id}")
    assert_right_to_left(browser)
    assert trace_steps(browser) == [step["step"] for step in assessment.trace]
    browser.check()
