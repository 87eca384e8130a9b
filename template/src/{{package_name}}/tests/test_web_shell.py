"""The web shell: security headers, CSRF on every form, the language switch, staff sign-in, the core's console pages."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ..app import create_app
from ..conftest import TEST_SECRET, form_token
from ..core import audit, staff
from ..core.deps import STAFF_COOKIE
from ..core.i18n import _, use_locale
from ..core.models import Partner, StaffAccount, StaffSession
from ..core.money import Money
from ..core.registry import money_scopes
from ..core.settings import Settings
from ..core.system import META_SCOPE
from ..core.web import charts, documents
from ..core.web.access import local_path
from ..core.web.csrf import CSRF_COOKIE
from ..core.web.shell import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.country_independent  # the frame and the console's core pages read no country data

PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def amina(session: Session) -> Iterator[pyotp.TOTP]:
    """A staff account `amina`, administrator and auditor; yields her authenticator."""
    staff.create_account(session=session, user_name="amina", display_name="Amina Odhiambo", password=PASSWORD)
    staff.grant_role(session=session, user_name="amina", role="core.administrator")
    staff.grant_role(session=session, user_name="amina", role="core.auditor")
    uri = staff.enrol_totp(session=session, user_name="amina", secret_key=TEST_SECRET)
    session.commit()
    yield pyotp.TOTP(pyotp.parse_uri(uri).secret)


def sign_in_form(client: TestClient, totp: pyotp.TOTP, *, next: str = "/console", password: str = PASSWORD):
    token = form_token(client)
    data = {"csrf_token": token, "user_name": "amina", "password": password, "code": totp.now(), "next": next}
    return client.post("/console/sign-in", data=data, follow_redirects=False)


def test_pages_carry_a_strict_policy_and_the_api_keeps_its_answers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and "style=" not in page.text
    api = client.get("/nothing-here")
    assert api.headers["content-type"] == "application/problem+json" and "content-security-policy" not in api.headers


def test_pages_are_compressed_and_every_asset_is_our_own(client: TestClient) -> None:
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"
    assert len(gzip.compress(page.content)) < 60_000
    assert not re.search(r'(src|href)="(https?:)?//', page.text), "a page may load nothing from another site"


def test_a_form_without_its_token_is_refused_and_changes_nothing(client: TestClient) -> None:
    refused = client.post("/language", data={"language": "sw", "next": "/"}, follow_redirects=False)
    assert refused.status_code == 403 and "reload" in refused.text
    assert "lang" not in refused.cookies
    form_token(client)  # the client now holds the cookie, but a forged field still fails
    forged = client.post("/language", data={"language": "sw", "csrf_token": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 403


def test_the_csrf_token_differs_per_browser(client: TestClient, settings: Settings, engine: Engine) -> None:
    first = form_token(client)
    with TestClient(create_app(settings), base_url="https://testserver") as other:
        second = form_token(other)
        assert first != second
        stolen = other.post("/language", data={"language": "sw", "csrf_token": first}, follow_redirects=False)
        assert stolen.status_code == 403
    assert client.cookies.get(CSRF_COOKIE)


def test_the_language_switch_remembers_the_choice_and_goes_back(client: TestClient) -> None:
    token = form_token(client)
    chosen = client.post(
        "/language", data={"language": "fr", "next": "/console/sign-in", "csrf_token": token}, follow_redirects=False
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/console/sign-in"
    page = client.get("/console/sign-in")
    assert page.headers["content-language"].startswith("fr") and 'lang="fr' in page.text
    elsewhere = client.post(
        "/language", data={"language": "fr", "next": "//evil.example/", "csrf_token": token}, follow_redirects=False
    )
    assert elsewhere.headers["location"] == "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/me", "/me"),
        ("/console?x=1", "/console?x=1"),
        ("//evil.example", None),
        ("https://evil.example", None),
        ("/\\evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_only_paths_of_this_site_are_followed(value: str | None, expected: str | None) -> None:
    assert local_path(value) == expected


def test_arabic_pages_are_right_to_left(client: TestClient) -> None:
    page = client.get("/", headers={"Accept-Language": "ar"})
    assert re.search(r'<html lang="ar[^"]*" dir="rtl">', page.text)
    assert 'dir="ltr"' in client.get("/").text


def test_staff_sign_in_opens_a_cookie_session_and_returns_where_asked(
    client: TestClient, session: Session, amina: pyotp.TOTP
) -> None:
    asked = client.get("/console/audit", follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/console/sign-in?next=/console/audit"
    signed = sign_in_form(client, amina, next="/console/audit")
    assert signed.status_code == 303 and signed.headers["location"] == "/console/audit"
    cookie = signed.headers["set-cookie"]
    assert STAFF_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert session.scalar(select(func.count()).select_from(StaffSession)) == 1
    home = client.get("/console")
    assert (
        "Amina Odhiambo" in home.text
        and 'href="/console/audit"' in home.text
        and 'href="/console/partners"' in home.text
    )


def test_a_wrong_password_is_refused_on_the_page_and_counted(
    client: TestClient, session: Session, amina: pyotp.TOTP
) -> None:
    refused = sign_in_form(client, amina, password="not her password at all")
    assert refused.status_code == 401 and "sign-in failed" in refused.text
    assert 'value="amina"' in refused.text, "the user name is kept in the form"
    assert STAFF_COOKIE not in refused.cookies
    assert session.scalar(select(func.count()).select_from(StaffSession)) == 0
    assert session.scalar(select(StaffAccount.failed_attempts)) == 1


def test_sign_in_is_rate_limited_per_address(settings: Settings, engine: Engine, amina: pyotp.TOTP) -> None:
    limited = settings.model_copy(update={"web_sign_in_attempts_per_minute": 2})
    with TestClient(create_app(limited), base_url="https://testserver", headers={"Accept-Language": "en"}) as client:
        statuses = [sign_in_form(client, amina, password="wrong password number x").status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        blocked = sign_in_form(client, amina)
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        assert "too many sign-in attempts" in blocked.text


def test_sign_out_ends_the_session(client: TestClient, session: Session, amina: pyotp.TOTP) -> None:
    sign_in_form(client, amina)
    out = client.post("/console/sign-out", data={"csrf_token": form_token(client, "/console")}, follow_redirects=False)
    assert out.status_code == 303
    assert session.scalars(select(StaffSession)).one().revoked
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_the_console_shows_only_the_links_a_role_opens(client: TestClient, staff_cookies) -> None:
    client.cookies.update(staff_cookies("core.auditor"))
    home = client.get("/console").text
    assert 'href="/console/audit"' in home and 'href="/console/partners"' not in home
    assert client.get("/console/partners").status_code == 403


def test_the_audit_viewer_filters_pages_and_verifies(client: TestClient, session: Session, staff_cookies) -> None:
    for number in range(55):
        audit.record(session=session, actor="staff:bob (x)", action="demo.thing", subject=f"thing:{number}")
    audit.record(session=session, actor="partner:Bank A", action="demo.other", subject="thing:x")
    session.commit()
    client.cookies.update(staff_cookies("core.auditor"))
    first = client.get("/console/audit", params={"action": "demo.thing"})
    assert first.text.count("<td>demo.thing</td>") == 50 and "demo.other" not in first.text
    following = re.search(r'href="\?([^"]*after=\d+)"', first.text)
    assert following, "a next-page link keeps the filter"
    second = client.get("/console/audit?" + following.group(1).replace("&amp;", "&"))
    assert second.text.count("<td>demo.thing</td>") == 5
    assert "The chain is intact" in client.get("/console/audit/verification").text


def test_partner_keys_are_issued_shown_once_approved_by_another_and_revoked(
    client: TestClient, session: Session, staff_cookies, settings: Settings
) -> None:
    money_scope = min(money_scopes(), default=None)  # a deployment without payments has none
    client.cookies.update(staff_cookies("core.administrator"))
    empty = client.post("/console/partners", data={"csrf_token": form_token(client, "/console/partners"), "name": ""})
    assert empty.status_code == 422 and "name:" in empty.text
    assert session.scalar(select(func.count()).select_from(Partner)) == 0
    scopes = [money_scope] if money_scope else [META_SCOPE]
    issued = client.post(
        "/console/partners",
        data={"csrf_token": form_token(client, "/console/partners"), "name": "Bank A", "scopes": scopes},
    )
    assert issued.status_code == 201
    key = re.search(r'<code class="key">([^<]+)</code>', issued.text).group(1)
    assert key.startswith("nsk_") and key not in client.get("/console/partners").text
    partner = session.scalars(select(Partner)).one()
    if money_scope:
        own = client.post(f"/console/partners/{partner.id}/approval", data={"csrf_token": form_token(client)})
        assert own.status_code == 409 or own.status_code == 403
        client.cookies.clear()
        for _ in range(2):
            client.cookies.update(staff_cookies("core.administrator"))
            client.post(f"/console/partners/{partner.id}/approval", data={"csrf_token": form_token(client)})
        session.refresh(partner)
        assert not partner.awaiting_approval
    revoked = client.post(f"/console/partners/{partner.id}/revocation", data={"csrf_token": form_token(client)})
    assert revoked.status_code == 200  # followed the redirect back to the list
    session.refresh(partner)
    assert not partner.active


def test_an_error_on_a_page_is_a_page(client: TestClient) -> None:
    missing = client.get("/console/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "<h1>Not Found</h1>" in missing.text


def test_a_chart_is_an_svg_of_our_own_with_its_numbers() -> None:
    figure = charts.Figure.of("Paid", "Day", ["Mon", "Tue"], {"paid": [3, 4], "failed": [1, 0]}, kind="stacked")
    drawn = charts.svg(figure).decode()
    assert drawn.startswith("<svg") and "Paid" in drawn and "http://pygal" not in drawn.split("-->", 3)[-1]
    assert not re.search(r"<script[^>]+src=", drawn)
    with pytest.raises(ValueError, match="2 labels"):
        charts.Figure.of("x", "y", ["a", "b"], {"s": [1]})


def test_a_record_is_a_pdf_in_the_language_when_its_font_can_draw_it() -> None:
    def build(money_text):
        return documents.Record(title="Avis d'imposition", reference="A-1", rows=[("Montant", "1 000 KES")])

    content = documents.record_pdf(build, issuer="Nation Stack", zone="Africa/Nairobi")
    assert content.startswith(b"%PDF") and b"Avis d'imposition" in content  # the title, in the document's metadata

    def arabic(money_text):
        return documents.Record(title=_("Audit log"), reference="A-1", rows=[("الاسم", money_text(Money("KES", 150)))])

    with use_locale("ar"):
        english = documents.record_pdf(arabic, issuer="Nation Stack", zone="Asia/Amman")
    assert english.startswith(b"%PDF") and b"Audit log" in english
