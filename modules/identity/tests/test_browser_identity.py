"""The identity pages in a real browser (tests/browser.py): headless Chromium as a 360 px phone.

Each page a journey reaches passes `Browser.check`: no WCAG 2.2 AA fault axe-core finds, under
60 KB over the wire, no sideways scrolling. The assertions read the page's structure and the
database, not its words, so the journeys pass in any language the deployment speaks.
"""

from __future__ import annotations

import phonenumbers
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ....conftest import STAFF_PASSWORD, TEST_SECRET
from ....core import staff
from ....core.db import make_session_factory
from ....core.settings import Settings
from ....tests.browser import Browser
from .. import vids
from ..config import IdentitySettings
from ..models import AuthLock, ContactChange, Enrolment, Person
from .conftest import LEVELS, OTHER_PHONE
from .test_pages_identity import HELD, hold_in, staff_member

pytestmark = pytest.mark.browser

SIGN_IN = "/me/identity/sign-in"
CODE = "/me/identity/sign-in/code"
RECORD = "/me/identity"


def sign_in_from_the_front_page(browser: Browser, read_otp, number: str, id_type: str = "nid") -> None:
    """Front page, "Sign in with your ID", the number, then the code from the outbox (as the phone shows it)."""
    browser.open("/")
    browser.follow(browser.find(f'main a[href="{SIGN_IN}"]'))
    assert browser.path == SIGN_IN
    browser.check()
    browser.find(f"#id_type-{id_type}").click()
    browser.find("#individual_id").send_keys(number)
    browser.follow(browser.find("main form.stack button"))
    assert browser.path == CODE
    assert number not in browser.find("main").text, "the number is not shown back"
    browser.check()
    browser.find("#code").send_keys(read_otp())
    browser.follow(browser.find("main form.stack button"))
    assert browser.path == "/me"
    browser.check()


def locks(session: Session, national_id: str) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuthLock.factor).where(AuthLock.national_id == national_id)))


def toggle_lock(browser: Browser, factor: str) -> None:
    browser.follow(browser.find(f'main form[action="/me/identity/locks"]:has(input[value="{factor}"]) button'))
    assert browser.path == RECORD


def test_a_resident_signs_in_reads_the_record_locks_a_factor_changes_contacts_and_signs_out(
    browser: Browser, session: Session, enrolled, read_otp
) -> None:
    national_id = enrolled()
    sign_in_from_the_front_page(browser, read_otp, national_id)

    browser.follow(browser.find(f'main a[href="{RECORD}"]'))
    assert browser.path == RECORD
    assert national_id in browser.find("main dl.record").text
    history = browser.find_all("main table")[-1]
    assert history.find_elements("css selector", "tbody tr"), "the sign-in is in the authentication history"
    browser.check()

    toggle_lock(browser, "demo")
    assert locks(session, national_id) == ["demo"]
    browser.check()  # the record with a locked factor (its button now unlocks)
    toggle_lock(browser, "demo")
    assert locks(session, national_id) == []

    browser.follow(browser.find('main a[href="/me/identity/contact"]'))
    browser.check()
    browser.find("#phone").send_keys(phonenumbers.format_number(OTHER_PHONE, phonenumbers.PhoneNumberFormat.NATIONAL))
    browser.find("#address-1").clear()
    browser.find("#address-1").send_keys("Second city")
    browser.follow(browser.find("main form.stack button"))
    assert browser.path == RECORD
    assert "Second city" in browser.find("main dl.record").text
    person = session.scalars(select(Person).where(Person.national_id == national_id)).one()
    assert person.address == {LEVELS[0]: "Second city"}
    assert person.phone == phonenumbers.format_number(OTHER_PHONE, phonenumbers.PhoneNumberFormat.E164)
    assert len(session.scalars(select(ContactChange)).all()) == 2
    browser.open("/me/identity/contact")
    assert len(browser.find_all("main table tbody tr")) == 2, "the earlier phone and address are listed"
    browser.check()

    browser.follow(browser.find(".menu form button"))
    assert browser.path == "/"
    browser.open(RECORD)
    assert browser.path.startswith(SIGN_IN), "signed out: the record asks to sign in again"


def test_a_resident_signs_in_with_a_vid(browser: Browser, engine: Engine, enrolled, read_otp) -> None:
    national_id = enrolled()
    with make_session_factory(engine).begin() as session:
        vid = vids.create_vid(
            session=session, national_id=national_id, kind="perpetual", settings=IdentitySettings(), actor="test"
        ).vid
    sign_in_from_the_front_page(browser, read_otp, vid, "vid")
    browser.open(RECORD)
    assert national_id in browser.find("main dl.record").text
    assert vid in browser.find("main table").text, "the VID is listed among my virtual IDs"
    browser.check()


# ---------------------------------------------------------------- the console


def adjudicator_with_authenticator(session: Session, user_name: str) -> pyotp.TOTP:
    staff.create_account(session=session, user_name=user_name, display_name=user_name, password=STAFF_PASSWORD)
    staff.grant_role(session=session, user_name=user_name, role="identity.adjudicator")
    uri = staff.enrol_totp(session=session, user_name=user_name, secret_key=TEST_SECRET)
    session.commit()
    return pyotp.TOTP(pyotp.parse_uri(uri).secret)


def approve_issuing(browser: Browser, application_id: str) -> None:
    browser.find(f"#decision-{application_id}-issue").click()
    browser.follow(browser.find(f'form[action="{HELD}/{application_id}/decision"] button'))
    assert browser.path == f"{HELD}/{application_id}"


def test_two_adjudicators_decide_a_held_enrolment_and_the_maker_may_not(
    browser: Browser, client: TestClient, session: Session, engine: Engine, settings: Settings
) -> None:
    maker_api, maker = staff_member(
        engine, settings, "maker", ("identity.registrar", None), ("identity.adjudicator", None)
    )
    _api, second = staff_member(engine, settings, "second", ("identity.adjudicator", None))
    first_code = adjudicator_with_authenticator(session, "first")
    application_id = hold_in(client, maker_api, "Capital", "1")

    browser.add_cookies(maker)
    browser.open(f"{HELD}/{application_id}")
    assert browser.find_all("main section.held .notice"), "the maker is told someone else must decide"
    assert not browser.find_all("main form.stack"), "the maker has no decision form"
    browser.check()

    browser.clear_cookies()
    browser.open(HELD)
    assert browser.path.startswith("/console/sign-in?next=")
    browser.find("#user_name").send_keys("first")
    browser.find("#password").send_keys(STAFF_PASSWORD)
    browser.find("#code").send_keys(first_code.now())
    browser.follow(browser.find("main form button"))
    assert browser.path == HELD
    cards = browser.find_all(f"#application-{application_id} ~ .side-by-side .card")
    assert len(cards) >= 2, "the application beside at least one candidate"
    browser.check()
    browser.screenshot("identity-held-side-by-side")
    approve_issuing(browser, application_id)
    assert browser.find_all("main section.held ul li"), "the decision shows 1 of 2 approvals"
    browser.check()

    browser.clear_cookies()
    browser.add_cookies(second)
    browser.open(f"{HELD}/{application_id}")
    approve_issuing(browser, application_id)
    decided = session.scalars(select(Enrolment).where(Enrolment.application_id == application_id)).one()
    assert decided.status == "issued" and decided.national_id
    assert decided.national_id in browser.find("main .notice.success").text
    browser.check()


def test_the_enrolments_chart_loads_with_its_numbers(browser: Browser, enrolled, staff_cookies) -> None:
    enrolled()
    browser.add_cookies(staff_cookies("identity.registrar"))
    browser.open("/")
    browser.follow(browser.find('a[href="/console"]'))
    browser.follow(browser.find('.menu a[href="/console/identity/enrolments"]'))
    assert browser.path == "/console/identity/enrolments"
    image = browser.find('main figure.chart img[src="/console/identity/enrolments.svg"]')
    assert browser.driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 0
    numbers = browser.find("main .table-scroll table")
    assert "Capital" in numbers.find_element("css selector", "thead").text
    browser.check()


def assert_right_to_left(browser: Browser) -> None:
    html = browser.find("html")
    assert (html.get_attribute("lang") or "").startswith("ar") and html.get_attribute("dir") == "rtl"


def test_a_resident_page_and_a_console_page_in_arabic_run_right_to_left(
    browser: Browser, client: TestClient, engine: Engine, settings: Settings, enrolled, resident_cookies
) -> None:
    """The `lang` cookie selects Arabic even where the language switch does not offer it."""
    national_id = enrolled()
    maker_api, _maker = staff_member(engine, settings, "maker", ("identity.registrar", None))
    application_id = hold_in(client, maker_api, "Capital", "1")
    _api, adjudicator = staff_member(engine, settings, "adjudicator", ("identity.adjudicator", None))

    browser.add_cookies({"lang": "ar", **resident_cookies(national_id)})
    browser.open(RECORD)
    assert browser.path == RECORD and national_id in browser.find("main dl.record").text
    assert_right_to_left(browser)
    browser.check()

    browser.clear_cookies()
    browser.add_cookies({"lang": "ar", **adjudicator})
    browser.open(HELD)
    assert browser.path == HELD and browser.find_all(f"#application-{application_id}")
    assert_right_to_left(browser)
    browser.check()
    browser.screenshot("identity-held-arabic")
