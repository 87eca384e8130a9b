"""Staff sign-in through OpenID Connect, end to end against a real provider (pyop, tests/oidc_provider.py)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import staff
from ..core.deps import STAFF_COOKIE, require_scope
from ..core.models import AuditEvent, StaffAccount, StaffSession
from ..core.oidc import (
    LOGIN_COOKIE,
    LOGIN_STATE_HMAC,
    LOGIN_STATE_SECONDS,
    Grant,
    LoginState,
    OidcSettings,
    SignInRefused,
    get_oidc_settings,
    grants_from_claims,
    logout_url,
    read_login_state,
    sign_value,
)
from ..core.registry import installed_roles
from .oidc_provider import Client, RunningProvider, User, running_provider

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country

CLIENT = Client(
    client_id="nation-stack",
    client_secret="provider-test-secret",
    redirect_uri="http://testserver/staff/oidc/callback",
    post_logout_redirect_uri="http://testserver/signed-out",
)
USERS = [
    User("amina", "amina-pass", "Amina Wanjiru", groups=("ministry-finance-auditors", "nairobi-clerks")),
    User("otieno", "otieno-pass", "Otieno Ouma", groups=("canteen-committee",)),
]
MAPPING = {"ministry-finance-auditors": "core.auditor"}
# A core scope the auditor holds and the administrator lacks, and the other way round.
AUDIT_SCOPE, PARTNERS_SCOPE = "core:audit", "core:partners"


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    with running_provider(USERS, CLIENT) as running:
        yield running


@pytest.fixture
def oidc_client(client: TestClient, provider: RunningProvider) -> Iterator[TestClient]:
    map_groups(client, provider, MAPPING)
    provider.rewrite_id_token = lambda token: token
    # No core route needs a scope one core role lacks: two probes guarded like any route.
    for scope in (AUDIT_SCOPE, PARTNERS_SCOPE):
        client.app.add_api_route(f"/probe/{scope}", lambda: {}, dependencies=[Depends(require_scope(scope))])  # type: ignore[attr-defined]
    yield client
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def map_groups(client: TestClient, provider: RunningProvider, mapping: dict[str, str | list[str]]) -> None:
    settings = OidcSettings(
        enabled=True,
        issuer=provider.issuer,
        client_id=CLIENT.client_id,
        client_secret=CLIENT.client_secret,
        redirect_url=CLIENT.redirect_uri,
        post_logout_redirect_url=CLIENT.post_logout_redirect_uri,
        roles_claim="groups",
        role_mapping=mapping,
    )
    client.app.dependency_overrides[get_oidc_settings] = lambda: settings  # type: ignore[attr-defined]


def sign_in_at_provider(client: TestClient, username: str, password: str) -> str:
    """Follow /staff/oidc/login to the provider, post its login form; the URL it sends the browser back to."""
    start = client.get("/staff/oidc/login", follow_redirects=False)
    assert start.status_code == 302
    with httpx.Client() as browser:
        form = browser.get(start.headers["location"])
        assert form.status_code == 200 and "<form" in form.text
        query = urlsplit(start.headers["location"]).query
        answer = browser.post(
            form.url.copy_with(query=None),
            data={"request": query, "username": username, "password": password},
        )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def callback(client: TestClient, back: str) -> httpx.Response:
    parts = urlsplit(back)
    return client.get(f"{parts.path}?{parts.query}")


def test_login_redirects_to_the_provider_with_pkce_state_and_nonce(oidc_client: TestClient, provider) -> None:
    response = oidc_client.get("/staff/oidc/login", follow_redirects=False)
    location = urlsplit(response.headers["location"])
    params = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.issuer}/authorize"
    assert params["response_type"] == "code" and params["client_id"] == CLIENT.client_id
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["state"] and params["nonce"] and params["state"] != params["nonce"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{LOGIN_COOKIE}=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Path=/staff/oidc" in cookie


def staff_token(response: httpx.Response) -> str:
    """The staff session cookie the response sets (the same cookie, with the same flags, as a local sign-in's)."""
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{STAFF_COOKIE}="))
    assert {"Secure", "HttpOnly", "SameSite=strict"} <= {part.strip() for part in cookie.split(";")}
    return cookie.split(";")[0].removeprefix(f"{STAFF_COOKIE}=")


def with_session(token: str) -> dict[str, str]:
    # The cookie is Secure: the test client, on http, would not send it back by itself.
    return {"Cookie": f"{STAFF_COOKIE}={token}"}


def sign_in_through_the_provider(client: TestClient, username: str = "amina") -> str:
    response = callback(client, sign_in_at_provider(client, username, f"{username}-pass"))
    assert response.status_code == 200, response.text
    return staff_token(response)


def test_a_user_in_a_mapped_group_gets_a_staff_session_with_its_roles(
    oidc_client: TestClient, session: Session, provider: RunningProvider
) -> None:
    response = callback(oidc_client, sign_in_at_provider(oidc_client, "amina", "amina-pass"))
    assert response.status_code == 200, response.text
    roles = [{"role": "core.auditor", "title": installed_roles()["core.auditor"].title, "region": None}]
    assert response.json() == {"user_name": "amina", "display_name": "Amina Wanjiru", "roles": roles}
    token = staff_token(response)
    assert oidc_client.get("/staff/me", headers=with_session(token)).json() == response.json()
    assert oidc_client.get("/meta", headers=with_session(token)).status_code == 200
    assert oidc_client.get(f"/probe/{AUDIT_SCOPE}", headers=with_session(token)).status_code == 200
    refused = oidc_client.get(f"/probe/{PARTNERS_SCOPE}", headers=with_session(token))
    assert refused.status_code == 403 and PARTNERS_SCOPE in refused.json()["detail"]
    account = session.scalars(select(StaffAccount)).one()
    assert (account.oidc_issuer, account.user_name) == (provider.issuer, "amina") and account.oidc_subject
    assert account.password_hash is None and account.totp_secret is None


def test_a_second_sign_in_replaces_the_grants_with_those_of_the_new_mapping(
    oidc_client: TestClient, session: Session, provider: RunningProvider
) -> None:
    first = sign_in_through_the_provider(oidc_client)
    map_groups(oidc_client, provider, {"nairobi-clerks": "core.administrator"})
    second = sign_in_through_the_provider(oidc_client)
    assert oidc_client.get(f"/probe/{PARTNERS_SCOPE}", headers=with_session(second)).status_code == 200
    assert oidc_client.get(f"/probe/{AUDIT_SCOPE}", headers=with_session(second)).status_code == 403
    # The grants belong to the account: the first session now acts with them too.
    assert oidc_client.get(f"/probe/{AUDIT_SCOPE}", headers=with_session(first)).status_code == 403
    assert session.scalars(select(StaffAccount)).one().user_name == "amina"
    replaced = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.grants-replaced").order_by(AuditEvent.id)
    ).all()
    assert [event.detail for event in replaced] == [
        {"user_name": "amina", "before": [], "after": ["core.auditor"]},
        {"user_name": "amina", "before": ["core.auditor"], "after": ["core.administrator"]},
    ]
    assert replaced[-1].actor == f"oidc:{provider.issuer}"


def test_the_same_grants_at_the_next_sign_in_are_not_audited_again(oidc_client: TestClient, session: Session) -> None:
    sign_in_through_the_provider(oidc_client)
    sign_in_through_the_provider(oidc_client)
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject.like("staff:%"))).all()
    assert actions == ["staff.created", "staff.grants-replaced"]


def test_an_account_of_the_provider_cannot_sign_in_with_a_password(oidc_client: TestClient, session: Session) -> None:
    sign_in_through_the_provider(oidc_client)
    for _attempt in range(6):  # more than the lock-out allows: the account is not locked
        refused = oidc_client.post(
            "/staff/sessions", json={"user_name": "amina", "password": "amina-pass", "code": "123456"}
        )
        assert refused.status_code == 401 and refused.json()["detail"] == "sign-in failed"
    account = session.scalars(select(StaffAccount)).one()
    assert account.failed_attempts == 0 and account.locked_until is None
    sign_in_through_the_provider(oidc_client)


def test_a_local_account_with_the_same_user_name_is_not_taken_over(oidc_client: TestClient, session: Session) -> None:
    staff.create_account(
        session=session, user_name="amina", display_name="Local Amina", password="a long local password"
    )
    session.commit()
    response = callback(oidc_client, sign_in_at_provider(oidc_client, "amina", "amina-pass"))
    assert response.status_code == 409
    assert "user_name: the user name 'amina' belongs to another staff account" in response.json()["detail"]
    assert not any(c.startswith(f"{STAFF_COOKIE}=") for c in response.headers.get_list("set-cookie"))
    session.expire_all()
    local = session.scalars(select(StaffAccount)).one()
    assert (local.display_name, local.oidc_issuer, local.password_hash is not None) == ("Local Amina", None, True)
    assert staff.list_accounts(session=session)[0].grants == ()


@pytest.mark.parametrize(
    ("mapping", "detail"),
    [
        ({"ministry-finance-auditors": "core.janitor"}, "role: unknown role 'core.janitor'; installed roles: "),
        ({"ministry-finance-auditors": "core.auditor@NBO"}, "region: the role 'core.auditor' is not regional"),
    ],
)
def test_a_mapping_to_a_role_this_deployment_cannot_grant_stops_every_sign_in(
    oidc_client: TestClient, provider: RunningProvider, mapping: dict, detail: str
) -> None:
    map_groups(oidc_client, provider, mapping)
    for route in ("login", "callback"):
        response = oidc_client.get(f"/staff/oidc/{route}", follow_redirects=False)
        assert response.status_code == 500
        assert response.json()["type"].endswith("/oidc-misconfigured")
        assert response.json()["detail"].startswith(f"OIDC_ROLE_MAPPING cannot be used: {detail}")


def test_a_user_whose_groups_map_to_no_role_is_refused(oidc_client: TestClient) -> None:
    response = callback(oidc_client, sign_in_at_provider(oidc_client, "otieno", "otieno-pass"))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/no-staff-role")
    assert "otieno holds no role in this deployment" in response.json()["detail"]


def test_the_provider_refuses_a_wrong_password(oidc_client: TestClient) -> None:
    start = oidc_client.get("/staff/oidc/login", follow_redirects=False)
    location = urlsplit(start.headers["location"])
    answer = httpx.post(
        f"{location.scheme}://{location.netloc}/authorize",
        data={"request": location.query, "username": "amina", "password": "guess"},
    )
    assert answer.status_code == 401


def test_logout_ends_the_staff_session_then_redirects_to_the_end_session_endpoint_with_the_id_token_hint(
    oidc_client: TestClient, provider: RunningProvider
) -> None:
    token = sign_in_through_the_provider(oidc_client)
    assert oidc_client.get("/meta", headers=with_session(token)).status_code == 200
    oidc_client.cookies.set(STAFF_COOKIE, token)  # as the browser sends it back (the test client would not: Secure)
    response = oidc_client.get("/staff/oidc/logout", follow_redirects=False)
    assert response.status_code == 302
    assert any(c.startswith(f'{STAFF_COOKIE}=""') for c in response.headers.get_list("set-cookie"))
    assert oidc_client.get("/meta", headers=with_session(token)).status_code == 401
    location = urlsplit(response.headers["location"])
    params = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.issuer}/logout"
    assert params["post_logout_redirect_uri"] == CLIENT.post_logout_redirect_uri
    assert claims_of(params["id_token_hint"])["preferred_username"] == "amina"
    # The provider accepts the hint as its own token and sends the browser back to the stack.
    back = httpx.get(response.headers["location"])
    assert back.status_code == 303 and back.headers["location"].startswith(CLIENT.post_logout_redirect_uri)
    assert provider.end_session_requests[-1]["id_token_hint"] == params["id_token_hint"]


def test_the_id_token_is_kept_with_the_staff_session_never_in_a_cookie(
    oidc_client: TestClient, session: Session, provider: RunningProvider
) -> None:
    # Entra ID puts every group id in the token: far more than the 4 KB a browser keeps in a cookie.
    groups = ["ministry-finance-auditors", *(f"{number:08x}-0000-4000-8000-000000000000" for number in range(200))]
    provider.rewrite_id_token = lambda token: provider.sign(with_claims(token, groups=groups))
    response = callback(oidc_client, sign_in_at_provider(oidc_client, "amina", "amina-pass"))
    assert response.status_code == 200, response.text
    cookies = response.headers.get_list("set-cookie")
    assert sorted(cookie.split("=")[0] for cookie in cookies) == sorted([STAFF_COOKIE, LOGIN_COOKIE])
    assert any(cookie.startswith(f'{LOGIN_COOKIE}=""') for cookie in cookies)  # the login state, removed
    sealed = session.scalars(select(StaffSession.oidc_id_token)).one()
    oidc_client.cookies.set(STAFF_COOKIE, staff_token(response))
    logout = oidc_client.get("/staff/oidc/logout", follow_redirects=False)
    hint = parse_qs(urlsplit(logout.headers["location"]).query)["id_token_hint"][0]
    assert len(hint) > 4096 and claims_of(hint)["groups"] == groups
    assert sealed and hint.split(".")[1][:32] not in sealed  # sealed: a copy of the database does not give it
    session.expire_all()
    assert session.scalars(select(StaffSession)).one().oidc_id_token is None  # forgotten with the session


def test_logout_without_a_staff_session_goes_to_the_provider_without_a_hint(oidc_client: TestClient) -> None:
    sign_in_through_the_provider(oidc_client)
    oidc_client.cookies.delete(STAFF_COOKIE)  # the session's cookie gone (expired, another browser)
    response = oidc_client.get("/staff/oidc/logout", follow_redirects=False)
    assert response.status_code == 302
    params = parse_qs(urlsplit(response.headers["location"]).query)
    assert "id_token_hint" not in params and params["client_id"] == [CLIENT.client_id]


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_claims(token: str, **changes: object) -> dict:
    return {**claims_of(token), **changes}


def test_a_tampered_id_token_is_refused(oidc_client: TestClient, provider: RunningProvider) -> None:
    def tamper(token: str) -> str:
        header, _payload, signature = token.split(".")
        changed = json.dumps(with_claims(token, groups=["ministry-finance-auditors"])).encode()
        return ".".join([header, base64.urlsafe_b64encode(changed).decode().rstrip("="), signature])

    provider.rewrite_id_token = tamper
    response = callback(oidc_client, sign_in_at_provider(oidc_client, "otieno", "otieno-pass"))
    assert response.status_code == 401
    assert response.json()["type"].endswith("/sign-in-refused")
    assert "signature does not verify" in response.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"aud": "another-client"}, "meant for another client"),
        ({"aud": [CLIENT.client_id, "another-client"]}, "meant for another client"),
        ({"nonce": "not-the-one-sent"}, "nonce does not match"),
        ({"iss": "https://impostor.example"}, "not issued by the configured OpenID provider"),
        ({"exp": int(time.time()) - 3600}, "has expired"),
        ({"iat": int(time.time()) + 3600}, "issue time is missing or in the future"),
    ],
)
def test_a_validly_signed_id_token_with_wrong_claims_is_refused(
    oidc_client: TestClient, provider: RunningProvider, changes: dict, detail: str
) -> None:
    provider.rewrite_id_token = lambda token: provider.sign(with_claims(token, **changes))
    response = callback(oidc_client, sign_in_at_provider(oidc_client, "amina", "amina-pass"))
    assert response.status_code == 401
    assert detail in response.json()["detail"]


def test_a_wrong_state_is_refused(oidc_client: TestClient) -> None:
    back = urlsplit(sign_in_at_provider(oidc_client, "amina", "amina-pass"))
    params = {key: values[0] for key, values in parse_qs(back.query).items()}
    response = oidc_client.get(back.path, params={**params, "state": "forged"})
    assert response.status_code == 401
    assert "state returned by the OpenID provider does not match" in response.json()["detail"]


def test_a_callback_without_the_login_cookie_is_refused(oidc_client: TestClient) -> None:
    back = sign_in_at_provider(oidc_client, "amina", "amina-pass")
    oidc_client.cookies.clear()
    response = callback(oidc_client, back)
    assert response.status_code == 401
    assert "expired or was not started from this browser" in response.json()["detail"]


def test_the_provider_error_is_reported(oidc_client: TestClient) -> None:
    start = oidc_client.get("/staff/oidc/login", follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    response = oidc_client.get("/staff/oidc/callback", params={"state": state, "error": "access_denied"})
    assert response.status_code == 401
    assert response.json()["detail"] == "the OpenID provider refused the sign-in: access_denied"


def test_routes_answer_404_when_oidc_is_not_enabled(client: TestClient) -> None:
    client.app.dependency_overrides[get_oidc_settings] = lambda: OidcSettings()  # type: ignore[attr-defined]
    for route in ("login", "callback", "logout"):
        response = client.get(f"/staff/oidc/{route}", follow_redirects=False)
        assert response.status_code == 404
        assert response.json()["detail"] == "OpenID Connect sign-in is not enabled on this deployment"
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_an_old_forged_or_missing_login_state_is_refused() -> None:
    secret = "x" * 43
    state = LoginState(state="s", nonce="n", code_verifier="v", started=1_800_000_000)
    cookie = sign_value(secret, LOGIN_STATE_HMAC, asdict(state))
    assert read_login_state(secret, cookie, now=state.started + LOGIN_STATE_SECONDS) == state
    forged = sign_value("y" * 43, LOGIN_STATE_HMAC, asdict(state))
    for refused, now in [(cookie, state.started + LOGIN_STATE_SECONDS + 1), (forged, state.started), (None, 0)]:
        with pytest.raises(SignInRefused, match="expired"):
            read_login_state(secret, refused, now=now)


# The mapping of claims to grants.


def test_groups_map_to_roles_with_and_without_a_region() -> None:
    mapping = {"ministry-finance-auditors": "core.auditor", "nairobi-clerks": ["core.administrator@NBO"]}
    claims = {"groups": ["ministry-finance-auditors", "nairobi-clerks", "canteen-committee"]}
    assert grants_from_claims(claims, "groups", mapping) == [Grant("core.auditor"), Grant("core.administrator", "NBO")]


def test_a_claim_that_is_one_string_and_a_group_mapped_twice_give_each_grant_once() -> None:
    mapping = {"finance": ["core.auditor", "core.administrator"], "auditors": "core.auditor"}
    claims = {"roles": ["finance", "auditors"]}
    assert grants_from_claims(claims, "roles", mapping) == [Grant("core.auditor"), Grant("core.administrator")]
    assert grants_from_claims({"roles": "auditors"}, "roles", mapping) == [Grant("core.auditor")]


def test_a_nested_claim_is_reached_with_dots() -> None:
    claims = {"realm_access": {"roles": ["finance"]}}
    assert grants_from_claims(claims, "realm_access.roles", {"finance": "core.administrator"}) == [
        Grant("core.administrator")
    ]


@pytest.mark.parametrize("claims", [{}, {"roles": None}, {"roles": [1, {"a": 2}]}, {"roles": {"finance": True}}])
def test_missing_or_malformed_claims_give_no_grant(claims: dict) -> None:
    assert grants_from_claims(claims, "roles", {"finance": "core.administrator"}) == []


def test_the_mapping_accepts_only_role_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIDC_ROLE_MAPPING", '{"finance": "core.auditor@NBO"}')
    assert OidcSettings().role_mapping == {"finance": "core.auditor@NBO"}
    with pytest.raises(ValidationError, match="not a role name"):
        OidcSettings(role_mapping={"finance": "Payments Approver"})


def test_enabled_needs_the_provider_and_client() -> None:
    with pytest.raises(ValidationError, match="OIDC_ENABLED needs"):
        OidcSettings(enabled=True, issuer="https://id.example.gov")
    assert OidcSettings().enabled is False


def test_an_unreachable_provider_is_a_502(client: TestClient) -> None:
    settings = OidcSettings(enabled=True, issuer="http://127.0.0.1:9", client_id="c", redirect_url=CLIENT.redirect_uri)
    client.app.dependency_overrides[get_oidc_settings] = lambda: settings  # type: ignore[attr-defined]
    response = client.get("/staff/oidc/login", follow_redirects=False)
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert response.status_code == 502
    assert response.json()["type"].endswith("/openid-provider-unavailable")
    assert response.json()["detail"].startswith("the OpenID provider answered badly: ")


def test_a_provider_without_end_session_gives_no_logout_url() -> None:
    settings = OidcSettings(post_logout_redirect_url="https://stack.example/")
    assert logout_url(settings, {"issuer": "https://id.example"}, "token") is None
    url = logout_url(settings, {"end_session_endpoint": "https://id.example/end"}, None)
    assert url == "https://id.example/end?client_id=&post_logout_redirect_uri=https%3A%2F%2Fstack.example%2F"
