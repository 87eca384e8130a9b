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
from fastapi.testclient import TestClient
from pydantic import ValidationError

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
from .oidc_provider import Client, RunningProvider, User, running_provider

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country

CLIENT = Client(
    client_id="nation-stack",
    client_secret="provider-test-secret",
    redirect_uri="http://testserver/staff/oidc/callback",
    post_logout_redirect_uri="http://testserver/signed-out",
)
USERS = [
    User("amina", "amina-pass", "Amina Wanjiru", groups=("ministry-finance-approvers", "nairobi-clerks")),
    User("otieno", "otieno-pass", "Otieno Ouma", groups=("canteen-committee",)),
]
MAPPING = {"ministry-finance-approvers": "core.auditor", "nairobi-clerks": ["core.administrator@NBO"]}


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    with running_provider(USERS, CLIENT) as running:
        yield running


@pytest.fixture
def oidc_client(client: TestClient, provider: RunningProvider) -> Iterator[TestClient]:
    settings = OidcSettings(
        enabled=True,
        issuer=provider.issuer,
        client_id=CLIENT.client_id,
        client_secret=CLIENT.client_secret,
        redirect_url=CLIENT.redirect_uri,
        post_logout_redirect_url=CLIENT.post_logout_redirect_uri,
        roles_claim="groups",
        role_mapping=MAPPING,
    )
    client.app.dependency_overrides[get_oidc_settings] = lambda: settings  # type: ignore[attr-defined]
    provider.rewrite_id_token = lambda token: token
    yield client
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


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


def test_a_user_in_a_mapped_group_signs_in_with_its_roles(oidc_client: TestClient, provider) -> None:
    response = callback(oidc_client, sign_in_at_provider(oidc_client, "amina", "amina-pass"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "amina" and body["display_name"] == "Amina Wanjiru"
    assert body["issuer"] == provider.issuer and body["subject"]
    assert body["grants"] == [
        {"role": "core.auditor", "region": None},
        {"role": "core.administrator", "region": "NBO"},
    ]


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


def test_logout_redirects_to_the_end_session_endpoint_with_the_id_token_hint(
    oidc_client: TestClient, provider: RunningProvider
) -> None:
    assert callback(oidc_client, sign_in_at_provider(oidc_client, "amina", "amina-pass")).status_code == 200
    response = oidc_client.get("/staff/oidc/logout", follow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    params = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.issuer}/logout"
    assert params["post_logout_redirect_uri"] == CLIENT.post_logout_redirect_uri
    assert claims_of(params["id_token_hint"])["preferred_username"] == "amina"
    # The provider accepts the hint as its own token and sends the browser back to the stack.
    back = httpx.get(response.headers["location"])
    assert back.status_code == 303 and back.headers["location"].startswith(CLIENT.post_logout_redirect_uri)
    assert provider.end_session_requests[-1]["id_token_hint"] == params["id_token_hint"]


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_claims(token: str, **changes: object) -> dict:
    return {**claims_of(token), **changes}


def test_a_tampered_id_token_is_refused(oidc_client: TestClient, provider: RunningProvider) -> None:
    def tamper(token: str) -> str:
        header, _payload, signature = token.split(".")
        changed = json.dumps(with_claims(token, groups=["ministry-finance-approvers"])).encode()
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
    claims = {"groups": ["ministry-finance-approvers", "nairobi-clerks", "canteen-committee"]}
    assert grants_from_claims(claims, "groups", MAPPING) == [Grant("core.auditor"), Grant("core.administrator", "NBO")]


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
