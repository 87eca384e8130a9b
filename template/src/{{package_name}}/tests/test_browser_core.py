"""The core's pages in a real browser: headless Chromium on a 360 px phone, axe-core on every page.

Each page a journey reaches is checked (`Browser.check`): no WCAG 2.2 AA fault axe-core can find,
under 60 KB over the wire with its stylesheet, no sideways scrolling. Skipped without Debian's
chromium and chromium-driver (tests/browser.py), failed instead in CI.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..conftest import TEST_SECRET
from ..core import staff
from ..core.country import LoadedCountry
from ..core.deps import STAFF_COOKIE
from ..core.models import Partner
from ..core.registry import installed_parts, installed_roles, money_scopes
from ..core.settings import Settings
from ..core.system import META_SCOPE
from ..core.web.languages import offered_languages
from .browser import Browser
from .test_page_access import a_registered_resident

pytestmark = [pytest.mark.browser, pytest.mark.each_module]  # the pages of each installed module

PASSWORD = "correct horse battery staple 7"


@dataclass(frozen=True)
class StaffLogin:
    user_name: str
    password: str
    authenticator: pyotp.TOTP


@pytest.fixture
def amina(session: Session) -> StaffLogin:
    """An administrator and auditor with a password and an authenticator app."""
    staff.create_account(session=session, user_name="amina", display_name="Amina Odhiambo", password=PASSWORD)
    staff.grant_role(session=session, user_name="amina", role="core.administrator")
    staff.grant_role(session=session, user_name="amina", role="core.auditor")
    uri = staff.enrol_totp(session=session, user_name="amina", secret_key=TEST_SECRET)
    session.commit()
    return StaffLogin("amina", PASSWORD, pyotp.TOTP(pyotp.parse_uri(uri).secret))


def html_attribute(browser: Browser, name: str) -> str:
    return browser.find("html").get_attribute(name) or ""


def box(browser: Browser, css: str) -> dict[str, float]:
    return browser.driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect(); return {left: r.left, right: r.right}",
        css,
    )


@pytest.mark.country_independent
def test_the_home_page_passes_in_the_browser(browser: Browser) -> None:
    browser.open("/")
    assert len(browser.find_all("h1")) == 1
    assert html_attribute(browser, "dir") == "ltr"
    browser.check()


@pytest.mark.country_independent
def test_the_language_switch_draws_the_page_again_in_the_chosen_language(browser: Browser) -> None:
    browser.open("/")
    others = browser.find_all(".languages button[aria-pressed=false]")
    if not others:
        pytest.skip("this deployment offers one language: there is no switch")
    chosen = others[-1].get_attribute("value")
    title = browser.find("h1").text
    browser.follow(others[-1])
    assert browser.path == "/"
    assert html_attribute(browser, "lang").split("-")[0] == chosen
    assert browser.find(f".languages button[value={chosen}]").get_attribute("aria-pressed") == "true"
    assert browser.find("h1").text != title, "the page is drawn in the chosen language"
    browser.check()


@pytest.mark.country_independent
def test_a_staff_member_signs_in_reads_the_audit_log_issues_a_key_and_signs_out(
    browser: Browser, amina: StaffLogin, session: Session, staff_cookies
) -> None:
    browser.open("/console")
    assert browser.path == "/console/sign-in?next=/console"
    browser.check()
    browser.find("#user_name").send_keys(amina.user_name)
    browser.find("#password").send_keys(amina.password)
    browser.find("#code").send_keys(amina.authenticator.now())
    browser.follow(browser.find("main form button"))
    assert browser.path == "/console"
    assert "Amina Odhiambo" in browser.find("main").text
    browser.check()

    browser.follow(browser.find('.menu a[href="/console/audit"]'))
    assert "staff.totp-enrolled" in browser.find("table").text
    browser.check()
    browser.follow(browser.find('main a[href="/console/audit/verification"]'))
    assert browser.find(".notice.success").is_displayed()
    browser.check()

    browser.follow(browser.find('.menu a[href="/console/partners"]'))
    browser.check()
    money_scope = min(money_scopes(), default=None)  # a deployment without payments has none
    browser.find("#name").send_keys("Bank A")
    browser.find(f'input[name=scopes][value="{money_scope or META_SCOPE}"]').click()
    browser.follow(browser.find("main form.stack button"))
    assert browser.find("code.key").text.startswith("nsk_")
    browser.check()
    partner = session.scalars(select(Partner)).one()
    assert partner.awaiting_approval == bool(money_scope)

    # Four eyes: other administrators approve from their own sessions, then the first one signs out.
    own_session = browser.driver.get_cookies()
    approvals = 0
    while partner.awaiting_approval:
        browser.add_cookies(staff_cookies("core.administrator"))
        browser.open("/console/partners")
        browser.follow(browser.find(f'form[action="/console/partners/{partner.id}/approval"] button'))
        assert browser.path == "/console/partners"
        if not approvals:
            browser.check()  # the list with a key part-approved (the next approval shows the same page)
        approvals += 1
        session.refresh(partner)
        assert approvals <= 9, "the key never became active"
    for cookie in own_session:
        browser.add_cookies({cookie["name"]: cookie["value"]})
    browser.open("/console/partners")
    assert "Bank A" in browser.find("table").text and partner.active

    browser.follow(browser.find(".menu form button"))
    assert browser.path == "/"
    browser.open("/console")
    assert browser.path.startswith("/console/sign-in")


@pytest.mark.country_independent
def test_staff_sign_in_works_with_the_keyboard_alone(browser: Browser, amina: StaffLogin) -> None:
    browser.open("/console/sign-in")
    keys = ActionChains(browser.driver)
    keys.send_keys(Keys.TAB).perform()
    assert browser.driver.switch_to.active_element.get_attribute("class") == "skip", "the first stop skips to the page"
    for _ in range(30):
        if browser.driver.switch_to.active_element.get_attribute("id") == "user_name":
            break
        keys.send_keys(Keys.TAB).perform()
    focused = browser.driver.switch_to.active_element
    assert focused.get_attribute("id") == "user_name", "Tab reaches the user name"
    assert focused.value_of_css_property("outline-style") != "none", "the focus is visible"
    keys.send_keys(amina.user_name, Keys.TAB, amina.password, Keys.TAB, amina.authenticator.now()).perform()
    with browser.next_page():
        keys.send_keys(Keys.ENTER).perform()
    assert browser.path == "/console"
    assert "Amina Odhiambo" in browser.find("main").text


@pytest.mark.country_independent
def test_arabic_pages_are_drawn_right_to_left(browser: Browser) -> None:
    """The locale middleware takes the `lang` cookie even where the switch does not offer Arabic."""
    browser.open("/")
    assert_masthead_runs(browser, "ltr")
    browser.add_cookies({"lang": "ar"})
    for path in ("/", "/console/sign-in"):
        browser.open(path)
        assert html_attribute(browser, "lang").startswith("ar") and html_attribute(browser, "dir") == "rtl"
        assert browser.find("body").value_of_css_property("direction") == "rtl"
        assert_masthead_runs(browser, "rtl")
        width = browser.driver.execute_script("return innerWidth")
        assert box(browser, "h1")["right"] > width / 2, "the heading starts at the right"
        browser.check()


def assert_masthead_runs(browser: Browser, direction: str) -> None:
    """The service's name at the start of the masthead, the language switch (when offered) at its end."""
    brand = box(browser, ".masthead .brand a")
    width = browser.driver.execute_script("return innerWidth")
    start_of_line = brand["left"] < width / 2 if direction == "ltr" else brand["right"] > width / 2
    assert start_of_line, f"the service's name starts the masthead ({direction})"
    if browser.find_all(".masthead .languages"):
        switch = box(browser, ".masthead .languages")
        if direction == "ltr":
            assert switch["right"] > brand["right"], "the language switch sits at the right"
        else:
            assert switch["left"] < brand["left"], "the language switch sits at the left, mirrored"


def test_screenshots_of_the_main_pages_in_the_first_two_languages(
    browser: Browser, country: LoadedCountry, session: Session, settings: Settings, resident_cookies
) -> None:
    """The front page, the console's sign-in and home, every console page a menu offers (to a person
    holding every role) and every resident page, in the first two languages the switch offers.

    Saved as <country>-<lang>-<page>.png where NATION_STACK_SCREENSHOTS points; each page checked.
    """
    everyone = {STAFF_COOKIE: _token_of_a_person_holding_every_role(session, settings)}
    national_id = a_registered_resident(session, country)
    resident = resident_cookies(national_id) if national_id else None
    pages = [("home", "/", {}), ("sign-in", "/console/sign-in", {}), ("console", "/console", everyone)]
    for part in installed_parts():
        links = part.pages.console_links if part.pages else ()
        pages += [(_slug(link.path), link.path, everyone) for link in links]
        if resident and part.pages:
            pages += [(_slug(link.path), link.path, resident) for link in part.pages.resident_links]
    for code, _name in offered_languages(country)[:2]:
        for page, path, cookies in pages:
            browser.clear_cookies()
            browser.add_cookies({"lang": code, **cookies})
            browser.open(path)
            assert browser.path == path
            assert html_attribute(browser, "lang").split("-")[0] == code
            browser.check()
            browser.screenshot(f"{country.profile.country}-{code}-{page}")


def _token_of_a_person_holding_every_role(session: Session, settings: Settings) -> str:
    account = staff.create_account(
        session=session, user_name="screenshots", display_name="Amina Odhiambo", password=PASSWORD
    )
    for role in installed_roles():
        staff.grant_role(session=session, user_name="screenshots", role=role)
    opened = staff.open_session(session=session, account=account, kind="cookie", settings=settings)
    session.commit()
    return opened.token


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-")
