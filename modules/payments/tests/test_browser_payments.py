"""The payments pages in a real browser (tests/browser.py): headless Chromium as a 360 px phone.

Each page a journey reaches passes `Browser.check`: no WCAG 2.2 AA fault axe-core finds, under
60 KB over the wire, no sideways scrolling. The assertions read the page's structure and the
database, not its words, so the journeys pass in any language.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from selenium.webdriver.support.select import Select
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.registry import Ports
from ....tests.browser import Browser
from ..models import Cycle, Instruction, InstructionState
from ..rails import SimulatedBank
from ..web import console as console_pages
from .factories import approved_cycle
from .test_pages_payments import APPROVER, CYCLES, FINANCE, OFFICER, built_cycle_id, major, programme_of

pytestmark = [pytest.mark.browser, pytest.mark.country_independent]  # the profile's currency only, whatever it is


def act_as(browser: Browser, cookies: dict[str, str]) -> None:
    browser.clear_cookies()
    browser.add_cookies(cookies)


def enter_totals(browser: Browser, count: str, total: str) -> None:
    for field, value in (("#control_count", count), ("#control_sum", total)):
        browser.find(field).clear()
        browser.find(field).send_keys(value)
    browser.follow(browser.find('main form[action$="/approval"] button'))


def image_loaded(browser: Browser, css: str) -> bool:
    return browser.driver.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", browser.find(css)
    )


def test_a_cycle_is_built_approved_twice_disbursed_and_reconciled_down_to_its_failed_payments(
    browser: Browser,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    staff_cookies,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = programme_of(session, ports, country, "BROWSER-E2E", count=40, linked=36)
    act_as(browser, staff_cookies(OFFICER))
    browser.open("/console")
    browser.follow(browser.find(f'.menu a[href="{CYCLES}"]'))
    assert browser.path == CYCLES
    browser.check()
    Select(browser.find("#programme")).select_by_value(programme)
    browser.find("#name").send_keys("2026-05")
    browser.follow(browser.find(f'main form[method=post][action="{CYCLES}"] button'))
    cycle_id = built_cycle_id(session, "2026-05")
    cycle_page = f"{CYCLES}/{cycle_id}"
    assert browser.path == cycle_page
    assert not browser.find_all('main form[action$="/approval"]'), "the maker may not approve"
    browser.check()
    cycle = session.get(Cycle, cycle_id)
    count, total = str(cycle.instruction_count), major(country, cycle.instruction_sum)

    act_as(browser, staff_cookies(APPROVER))
    browser.open(cycle_page)
    browser.check()
    enter_totals(browser, count, "12,50")  # no amount by the money rules: the field says so, nothing counted
    error = browser.find("#control_sum + p.error")
    assert error.get_attribute("id") == "control_sum-error" and error.is_displayed()
    field = browser.find("#control_sum")
    assert field.get_attribute("aria-invalid") == "true"
    assert "control_sum-error" in field.get_attribute("aria-describedby").split()
    assert field.get_attribute("value") == "12,50", "the value typed is kept"
    browser.check()
    enter_totals(browser, count, total)
    assert browser.path == cycle_page
    browser.check()

    act_as(browser, staff_cookies(APPROVER))
    browser.open(cycle_page)
    enter_totals(browser, count, total)
    session.expire_all()
    assert session.get(Cycle, cycle_id).state == "approved"

    # The live server runs in this process: the page's rail is swapped for a bank that rejects some payments.
    monkeypatch.setattr(
        console_pages,
        "rail_from_settings",
        lambda settings: SimulatedBank(failure_rate=0.3, seed=settings.simulated_seed),
    )
    act_as(browser, staff_cookies(FINANCE))
    browser.open(cycle_page)
    browser.check()  # approved, awaiting disbursement
    browser.follow(browser.find('main form[action$="/disbursement"] button'))
    assert browser.path == cycle_page
    session.expire_all()
    assert session.get(Cycle, cycle_id).state == "disbursed"
    assert image_loaded(browser, f'main figure.chart img[src="{cycle_page}/outcomes.svg"]')
    browser.check()
    browser.screenshot("payments-cycle-disbursed")

    browser.follow(browser.find(f'main a[href="{cycle_page}/reconciliation"]'))
    assert browser.find_all("main .notice.success"), "the payments match the approved totals"
    browser.check()
    browser.follow(browser.find(f'main a[href="{cycle_page}/instructions?outcome=failed"]'))
    returned = session.scalars(
        select(Instruction.end_to_end_id).where(
            Instruction.cycle_id == cycle_id, Instruction.state == InstructionState.RETURNED
        )
    ).all()
    assert returned, "the bank rejected some payments"
    listed = [cell.text for cell in browser.find_all("main table tbody th[scope=row]")]
    assert sorted(listed) == sorted(returned)
    browser.check()


def test_a_console_page_in_arabic_runs_right_to_left(
    browser: Browser, session: Session, ports: Ports, country: LoadedCountry, staff_cookies
) -> None:
    """The cycle page with its tables and chart, in Arabic through the `lang` cookie."""
    cycle = approved_cycle(session, ports, country, count=20)
    session.commit()
    act_as(browser, {"lang": "ar", **staff_cookies(FINANCE)})
    browser.open(f"{CYCLES}/{cycle.id}")
    assert_right_to_left(browser)
    assert image_loaded(browser, "main figure.chart img")
    browser.check()


def assert_right_to_left(browser: Browser) -> None:
    html = browser.find("html")
    assert (html.get_attribute("lang") or "").startswith("ar") and html.get_attribute("dir") == "rtl"


def test_a_resident_lists_their_payments_and_downloads_a_record(
    browser: Browser, paid_residents: dict[str, Any], resident_cookies
) -> None:
    """Needs identity (national IDs, resident sessions): `paid_residents` skips without it."""
    act_as(browser, resident_cookies(paid_residents["amina"]))
    browser.open("/me")
    browser.follow(browser.find('main a[href="/me/payments"]'))
    assert browser.path == "/me/payments"
    browser.check()
    records = [link.get_attribute("href") for link in browser.find_all('main table a[href$=".pdf"]')]
    assert len(records) == 2, "a cycle's payment and a direct transfer"
    # A download is no page: fetch the link as the browser would, with its cookies.
    cookies = "; ".join(f"{cookie['name']}={cookie['value']}" for cookie in browser.driver.get_cookies())
    for href in records:
        answer = httpx.get(href, headers={"Cookie": cookies})
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf", href
        assert answer.content.startswith(b"%PDF")

    browser.add_cookies({"lang": "ar"})
    browser.open("/me/payments")
    assert_right_to_left(browser)
    browser.check()
