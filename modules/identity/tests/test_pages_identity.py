"""The identity pages: resident sign-in with an ID or VID and a code, the resident's record, locks and
contacts; the adjudication queue under four-eyes and regions; the enrolments chart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ....app import create_app
from ....conftest import STAFF_PASSWORD, form_token
from ....core import staff
from ....core.db import make_session_factory
from ....core.deps import STAFF_COOKIE
from ....core.models import AuditEvent, Partner
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ....core.security import revoke_partner
from ....core.settings import Settings
from ....core.web.access import RESIDENT_COOKIE
from .. import reports, vids
from ..config import IdentitySettings
from ..models import AuthLock, AuthThrottle, ContactChange, Enrolment, Person, ResidentSession
from ..portal import WEB_PORTAL_NAME, existing_web_portal
from .conftest import ADDRESS, LEVELS, OTHER_PHONE, PHONE
from .test_enrolment import enrolment

SIGN_IN = "/me/identity/sign-in"
CODE = "/me/identity/sign-in/code"
HELD = "/console/identity/held"


def ask_for_code(client: TestClient, individual_id: str, id_type: str = "nid", next: str = "/me/identity"):
    data = {"csrf_token": form_token(client, SIGN_IN), "id_type": id_type, "individual_id": individual_id, "next": next}
    return client.post(SIGN_IN, data=data, follow_redirects=False)


def send_code(client: TestClient, code: str):
    return client.post(CODE, data={"csrf_token": form_token(client, CODE), "code": code}, follow_redirects=False)


def sign_in(client: TestClient, read_otp, individual_id: str, id_type: str = "nid"):
    asked = ask_for_code(client, individual_id, id_type)
    assert asked.status_code == 303, asked.text
    return send_code(client, read_otp())


# ---------------------------------------------------------------- sign-in


def test_a_resident_signs_in_with_the_code_sent_to_their_phone(
    client: TestClient, session: Session, enrolled, read_otp
) -> None:
    national_id = enrolled()
    asked = ask_for_code(client, f" {national_id} ")  # spaces typed around the number are ignored
    assert asked.status_code == 303 and asked.headers["location"] == CODE
    code_page = client.get(CODE)
    masked = PHONE[:4] + "*" * (len(PHONE) - 6) + PHONE[-2:]
    assert masked in code_page.text and PHONE not in code_page.text
    assert national_id not in code_page.text and national_id not in asked.headers["location"]

    signed_in = send_code(client, read_otp())
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/me/identity"
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith(f"{RESIDENT_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    record = client.get("/me/identity")
    assert record.status_code == 200 and national_id in record.text and "Wanjiru" in record.text

    opened = session.scalars(select(ResidentSession)).one()
    portal = session.get(Partner, opened.partner_id)
    assert (opened.national_id, portal.name, portal.scopes) == (national_id, WEB_PORTAL_NAME, ["identity:resident"])
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.resident.session")).one()
    assert (event.subject, event.detail["result"], event.actor) == (f"person:{national_id}", "success", WEB_PORTAL_NAME)
    assert "sign-in" in record.text and WEB_PORTAL_NAME in record.text, "the sign-in shows in the history"


def test_the_session_cookie_is_not_secure_only_in_development_over_http(settings: Settings, enrolled, read_otp) -> None:
    national_id = enrolled()
    development = settings.model_copy(update={"environment": "development"})
    with TestClient(create_app(development), base_url="http://testserver", headers={"Accept-Language": "en"}) as client:
        signed_in = sign_in(client, read_otp, national_id)
        cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith(f"{RESIDENT_COOKIE}="))
        assert "Secure" not in cookie and "HttpOnly" in cookie
        assert client.get("/me/identity").status_code == 200


def test_only_a_local_next_is_followed(client: TestClient, enrolled, read_otp) -> None:
    national_id = enrolled()
    ask_for_code(client, national_id, next="https://elsewhere.example/steal")
    assert send_code(client, read_otp()).headers["location"] == "/me"


def test_a_wrong_code_opens_nothing(client: TestClient, session: Session, enrolled, read_otp) -> None:
    national_id = enrolled()
    ask_for_code(client, national_id)
    wrong = str((int(read_otp()) + 1) % 1_000_000).zfill(6)
    refused = send_code(client, wrong)
    assert refused.status_code == 401 and "code: the code is wrong" in refused.text
    assert RESIDENT_COOKIE not in refused.cookies
    assert session.scalar(select(func.count()).select_from(ResidentSession)) == 0
    assert session.scalars(select(AuthThrottle)).one().failures == 1, "the failure counts towards the lock-out"
    malformed = send_code(client, "12ab")
    assert malformed.status_code == 422 and "code: the code has 6 digits" in malformed.text
    assert client.get("/me/identity", follow_redirects=False).status_code == 303


def test_the_code_page_without_a_pending_sign_in_starts_again(client: TestClient) -> None:
    assert client.get(CODE, follow_redirects=False).headers["location"] == SIGN_IN
    client.cookies.set("identity_sign_in", "v1:forged", path=SIGN_IN)
    assert send_code(client, "123456").status_code == 400


def test_a_resident_signs_in_with_a_vid_and_sees_who_used_it(
    client: TestClient, engine: Engine, enrolled, read_otp, ports: Ports
) -> None:
    national_id = enrolled()
    with make_session_factory(engine).begin() as session:
        vid = vids.create_vid(
            session=session, national_id=national_id, kind="perpetual", settings=IdentitySettings(), actor="test"
        ).vid
    assert sign_in(client, read_otp, vid, "vid").status_code == 303
    record = client.get("/me/identity").text
    assert national_id in record and vid in record
    tokens = ports.get(SectorTokens)
    assert tokens is not None
    with make_session_factory(engine).begin() as session:  # as the G2P Connect mapper resolves a vid: address
        tokens.token_for_vid(session=session, vid=vid, sector="payments", actor="partner:Bank A")
    record = client.get("/me/identity").text
    assert "Virtual ID (VID)" in record and "partner:Bank A" in record, "the use shows in the history"


def test_an_unknown_number_is_refused_on_the_form(client: TestClient, enrolled) -> None:
    enrolled()
    refused = ask_for_code(client, "12345")
    assert refused.status_code == 422 and "individual_id:" in refused.text and 'value="12345"' in refused.text
    bad_type = ask_for_code(client, "1234567890", id_type="passport")
    assert bad_type.status_code == 422 and "id_type:" in bad_type.text


def test_the_sign_in_forms_are_rate_limited(settings: Settings, engine: Engine, enrolled, read_otp) -> None:
    national_id = enrolled()
    limited = settings.model_copy(update={"web_sign_in_attempts_per_minute": 2})
    with TestClient(create_app(limited), base_url="https://testserver", headers={"Accept-Language": "en"}) as client:
        assert ask_for_code(client, national_id).status_code == 303
        assert send_code(client, "000000").status_code == 401
        blocked = send_code(client, read_otp())
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        assert "too many sign-in attempts" in blocked.text
        assert ask_for_code(client, national_id).status_code == 429


def test_the_otp_limits_of_the_id_apply(client: TestClient, enrolled) -> None:
    national_id = enrolled()
    statuses = [ask_for_code(client, national_id).status_code for _ in range(IdentitySettings().otp_per_id_max + 1)]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {303}


def test_signing_out_ends_the_session(client: TestClient, session: Session, enrolled, read_otp) -> None:
    sign_in(client, read_otp, enrolled())
    out = client.post("/me/sign-out", data={"csrf_token": form_token(client, "/me")}, follow_redirects=False)
    assert out.status_code == 303
    assert session.scalar(select(func.count()).select_from(ResidentSession)) == 0
    assert client.get("/me/identity", follow_redirects=False).headers["location"].startswith(SIGN_IN)


def test_revoking_the_portal_partner_switches_resident_sign_in_off(
    client: TestClient, engine: Engine, enrolled, read_otp
) -> None:
    national_id = enrolled()
    sign_in(client, read_otp, national_id)
    with make_session_factory(engine).begin() as session:
        revoke_partner(session=session, partner_id=existing_web_portal(session).id)
    assert client.get("/me/identity", follow_redirects=False).status_code == 303, "its sessions stop at once"
    refused = ask_for_code(client, national_id)
    assert refused.status_code == 403 and "switched off" in refused.text


def test_a_session_opened_through_the_api_is_no_portal_cookie(
    client: TestClient, enrolled, relying_party, read_otp
) -> None:
    kiosk = relying_party("identity:resident", name="Kiosk")
    ident = {"transaction_id": "kiosk-0000001", "individual_id": enrolled()}
    client.post("/identity/resident/otp", json=ident, headers=kiosk.headers)
    opened = client.post("/identity/resident/sessions", json={**ident, "otp": read_otp()}, headers=kiosk.headers)
    client.cookies.set(RESIDENT_COOKIE, opened.json()["session_token"])
    assert client.get("/me/identity", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------- the resident's record


def test_the_record_shows_my_data_and_never_another_residents(client: TestClient, enrolled, resident_cookies) -> None:
    mine = enrolled()
    other = enrolled(given_name="Zawadi", family_name="Otieno", date_of_birth="1990-02-02", phone=None)
    client.cookies.update(resident_cookies(mine))
    record = client.get("/me/identity")
    assert record.status_code == 200
    assert mine in record.text and "Amina" in record.text and "Capital" in record.text
    assert PHONE not in record.text and PHONE[-2:] in record.text, "the phone is shown masked"
    assert other not in record.text and "Zawadi" not in record.text
    # The page takes the person from the session only: a number in the URL or a form is ignored.
    asked_for_another = client.get("/me/identity", params={"national_id": other}).text
    assert "Zawadi" not in asked_for_another and "1990" not in asked_for_another and "Amina" in asked_for_another
    assert other not in client.get("/me/identity/contact").text


def test_a_resident_locks_and_unlocks_a_factor(
    client: TestClient, session: Session, enrolled, resident_cookies
) -> None:
    national_id = enrolled()
    client.cookies.update(resident_cookies(national_id))

    def lock(factor: str, locked: str):
        data = {"csrf_token": form_token(client, "/me/identity"), "factor": factor, "locked": locked}
        return client.post("/me/identity/locks", data=data, follow_redirects=False)

    assert lock("demo", "true").status_code == 303
    assert session.scalars(select(AuthLock.factor).where(AuthLock.national_id == national_id)).all() == ["demo"]
    assert "locked" in client.get("/me/identity").text
    assert lock("demo", "false").status_code == 303
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuthLock)) == 0
    refused = lock("iris", "true")
    assert refused.status_code == 422 and "factor:" in refused.text
    assert session.scalar(select(func.count()).select_from(AuthLock)) == 0


def test_a_resident_changes_phone_and_address_and_the_old_ones_are_kept(
    client: TestClient, session: Session, enrolled, resident_cookies
) -> None:
    national_id = enrolled()
    other = enrolled(given_name="Zawadi", family_name="Otieno", date_of_birth="1990-02-02")
    client.cookies.update(resident_cookies(national_id))
    national = phonenumbers.format_number(OTHER_PHONE, phonenumbers.PhoneNumberFormat.NATIONAL)
    data = {
        "csrf_token": form_token(client, "/me/identity/contact"),
        "phone": national,
        f"address.{LEVELS[0]}": "Second city",
        "national_id": other,  # not a field of the form: never read
    }
    assert client.post("/me/identity/contact", data=data, follow_redirects=False).status_code == 303
    person = session.scalars(select(Person).where(Person.national_id == national_id)).one()
    assert person.phone == phonenumbers.format_number(OTHER_PHONE, phonenumbers.PhoneNumberFormat.E164)
    assert person.address == {LEVELS[0]: "Second city"}
    changes = {c.field: c.old_value for c in session.scalars(select(ContactChange))}
    assert changes == {"phone": PHONE, "address": ADDRESS}
    assert session.scalars(select(Person).where(Person.national_id == other)).one().address == ADDRESS
    assert "Second city" in client.get("/me/identity").text

    refused = client.post("/me/identity/contact", data={**data, "phone": "not a phone"}, follow_redirects=False)
    assert refused.status_code == 422 and "phone:" in refused.text and 'value="not a phone"' in refused.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ContactChange)) == 2


# ---------------------------------------------------------------- adjudication


def staff_member(engine: Engine, settings: Settings, user_name: str, *grants: tuple[str, str | None]):
    """A staff account with `grants` (role, region): the headers of a bearer session, the cookies of a page session."""
    with make_session_factory(engine).begin() as session:
        account = staff.create_account(
            session=session, user_name=user_name, display_name=user_name, password=STAFF_PASSWORD
        )
        for role, region in grants:
            staff.grant_role(session=session, user_name=user_name, role=role, region=region)
        bearer = staff.open_session(session=session, account=account, kind="bearer", settings=settings)
        cookie = staff.open_session(session=session, account=account, kind="cookie", settings=settings)
    return {"Authorization": f"Bearer {bearer.token}"}, {STAFF_COOKIE: cookie.token}


def hold_in(client: TestClient, headers: dict, region: str, suffix: str) -> str:
    """Enrol a person in `region` and the same person again, held; the held application's ID."""
    address = {LEVELS[0]: region}
    born = "1970-01-01" if region == "Capital" else "1971-01-01"
    first = enrolment(f"first-000-{suffix}", address=address, date_of_birth=born)
    assert client.post("/identity/enrolments", json=first, headers=headers).status_code == 201
    held = enrolment(f"held-0000-{suffix}", address=address, date_of_birth=born, given_name="Amina ")
    response = client.post("/identity/enrolments", json=held, headers=headers)
    assert response.status_code == 202, response.text
    return f"held-0000-{suffix}"


def decide(client: TestClient, cookies: dict, application_id: str, decision: str = "issue"):
    client.cookies.clear()
    client.cookies.update(cookies)
    data = {"csrf_token": form_token(client, HELD), "decision": decision, "note": "twins"}
    return client.post(f"{HELD}/{application_id}/decision", data=data, follow_redirects=False)


def test_two_adjudicators_decide_on_the_pages_and_the_maker_is_refused(
    client: TestClient, session: Session, engine: Engine, settings: Settings
) -> None:
    maker_api, maker_page = staff_member(
        engine, settings, "maker", ("identity.registrar", None), ("identity.adjudicator", None)
    )
    _api, first = staff_member(engine, settings, "first", ("identity.adjudicator", None))
    _api, second = staff_member(engine, settings, "second", ("identity.adjudicator", None))
    application_id = hold_in(client, maker_api, "Capital", "1")

    client.cookies.update(first)
    queue = client.get(HELD).text
    assert 'class="side-by-side"' in queue and "Name score" in queue and application_id in queue

    refused = decide(client, maker_page, application_id)
    assert refused.status_code == 403 and "someone else must approve it" in refused.text
    assert "You submitted this enrolment" in client.get(f"{HELD}/{application_id}").text

    assert decide(client, first, application_id).status_code == 303
    page = client.get(f"{HELD}/{application_id}").text
    assert "issue a new ID: 1 of 2 approvals" in page
    again = decide(client, first, application_id)
    assert again.status_code == 409
    assert decide(client, second, application_id).status_code == 303

    enrolment_row = session.scalars(select(Enrolment).where(Enrolment.application_id == application_id)).one()
    assert enrolment_row.status == "issued" and enrolment_row.national_id
    assert f"a new ID was issued, {enrolment_row.national_id}" in client.get(f"{HELD}/{application_id}").text
    issued = session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.adjudication.issue")).one()
    actors = [approver["actor"] for approver in issued.detail["approvers"]]
    assert actors == ["staff:first (identity.adjudicator)", "staff:second (identity.adjudicator)"]
    assert application_id not in client.get(HELD).text, "a decided enrolment leaves the queue"


def test_rejecting_as_a_duplicate_names_a_candidate(client: TestClient, session: Session, engine, settings) -> None:
    maker_api, _page = staff_member(engine, settings, "maker", ("identity.registrar", None))
    application_id = hold_in(client, maker_api, "Capital", "1")
    candidate = session.scalars(select(Enrolment).where(Enrolment.application_id == application_id)).one()
    duplicate_of = candidate.candidates[0]
    adjudicators = [staff_member(engine, settings, f"a{n}", ("identity.adjudicator", None))[1] for n in (1, 2)]
    nonsense = decide(client, adjudicators[0], application_id, "approve-everything")
    assert nonsense.status_code == 422 and "decision:" in nonsense.text
    not_candidate = decide(client, adjudicators[0], application_id, "reject_duplicate:6497869071")
    assert not_candidate.status_code == 422 and "duplicate_of:" in not_candidate.text
    for cookies in adjudicators:
        assert decide(client, cookies, application_id, f"reject_duplicate:{duplicate_of}").status_code == 303
    session.expire_all()
    assert session.scalars(select(Enrolment.status).where(Enrolment.application_id == application_id)).one() == (
        "rejected_duplicate"
    )


def test_a_region_limited_adjudicator_sees_and_decides_their_region_only(
    client: TestClient, engine: Engine, settings: Settings, staff_cookies
) -> None:
    maker_api, _page = staff_member(engine, settings, "maker", ("identity.registrar", None))
    capital = hold_in(client, maker_api, "Capital", "c")
    coast = hold_in(client, maker_api, "Coast", "k")
    client.cookies.update(staff_cookies("identity.adjudicator", "Capital"))
    queue = client.get(HELD).text
    assert capital in queue and coast not in queue
    assert client.get(HELD, params={"region": "Coast"}).status_code == 403
    assert client.get(f"{HELD}/{coast}").status_code == 403
    data = {"csrf_token": form_token(client, HELD), "decision": "issue"}
    assert client.post(f"{HELD}/{coast}/decision", data=data, follow_redirects=False).status_code == 403
    client.cookies.clear()
    client.cookies.update(staff_cookies("identity.registrar"))
    assert client.get(HELD).status_code == 403, "a registrar does not adjudicate"


# ---------------------------------------------------------------- enrolments chart


def test_the_figure_counts_enrolments_per_region_and_local_day() -> None:
    zone = ZoneInfo("Africa/Nairobi")  # UTC+3: 22:00 UTC is already the next day there
    today = date(2026, 3, 14)
    rows = [
        (datetime(2026, 3, 14, 8, tzinfo=UTC), "Capital"),
        (datetime(2026, 3, 14, 9, tzinfo=UTC), "Capital"),
        (datetime(2026, 3, 13, 22, tzinfo=UTC), "Coast"),  # the 14th in Nairobi
        (datetime(2026, 3, 1, 10, tzinfo=UTC), "Coast"),  # the first day of the window
        (datetime(2026, 2, 28, 20, tzinfo=UTC), "Coast"),  # before the window: left out
        (datetime(2026, 3, 2, 10), None),  # naive (SQLite): UTC
    ]
    figure = reports.enrolments_figure(rows, today=today, zone=zone)
    values = {series.name: series.values for series in figure.series}
    assert len(figure.labels) == 14 and figure.kind == "stacked"
    assert values["Capital"] == (0,) * 13 + (2,)
    assert values["Coast"] == (1,) + (0,) * 12 + (1,)
    assert values["no region"] == (0, 1) + (0,) * 12
    assert [series.name for series in figure.series] == ["Capital", "Coast", "no region"], "busiest, then by name"


def test_the_figure_keeps_the_busiest_regions_and_sums_the_others() -> None:
    zone = ZoneInfo("UTC")
    moment = datetime(2026, 3, 14, 12, tzinfo=UTC)
    rows = [(moment, f"Region {number}") for number in range(1, 9) for _ in range(number)]
    figure = reports.enrolments_figure(rows, today=moment.date(), zone=zone, most=3)
    totals = {series.name: sum(series.values) for series in figure.series}
    assert totals == {"Region 8": 8, "Region 7": 7, "Region 6": 6, "other regions": 15}
    empty = reports.enrolments_figure([], today=moment.date(), zone=zone)
    assert [(series.name, sum(series.values)) for series in empty.series] == [("all regions", 0)]


def test_the_enrolments_page_shows_the_chart_and_its_numbers(
    client: TestClient, enrolled, staff_cookies, country
) -> None:
    enrolled()
    enrolled(given_name="Zawadi", family_name="Otieno", date_of_birth="1990-02-02", address={LEVELS[0]: "Coast"})
    client.cookies.update(staff_cookies("identity.registrar"))
    page = client.get("/console/identity/enrolments")
    assert page.status_code == 200 and 'src="/console/identity/enrolments.svg"' in page.text
    assert '<th scope="col">Capital</th>' in page.text and '<th scope="col">Coast</th>' in page.text
    chart = client.get("/console/identity/enrolments.svg")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert "Enrolments received per day" in chart.text
    client.cookies.clear()
    client.cookies.update(staff_cookies("identity.registrar", "Capital"))
    limited = client.get("/console/identity/enrolments").text
    assert '<th scope="col">Capital</th>' in limited and "Coast" not in limited


def test_the_window_starts_at_local_midnight() -> None:
    zone = ZoneInfo("Africa/Nairobi")
    start = reports.window_start(date(2026, 3, 14), zone)
    assert start.astimezone(UTC) == datetime(2026, 2, 28, 21, tzinfo=UTC)
    assert start + timedelta(days=14) == datetime(2026, 3, 15, tzinfo=zone)
