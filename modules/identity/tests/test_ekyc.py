from collections.abc import Callable

from fastapi.testclient import TestClient

from ..auth import partner_token
from .conftest import ADDRESS, Relying
from .test_auth import auth_body


def test_ekyc_returns_only_the_policy_attributes_and_a_partner_token(
    client: TestClient, enrolled, relying_party: Callable[..., Relying]
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:ekyc", auth_types=("demo",), ekyc=("given_name", "address"))
    response = client.post("/identity/ekyc", json=auth_body(national_id), headers=bank.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["authenticated"] is True
    assert body["attributes"] == {"given_name": "Amina", "address": ADDRESS}
    assert len(body["partner_token"]) == 64 and national_id not in body["partner_token"]


def test_partner_tokens_differ_per_partner_and_cannot_authenticate(
    client: TestClient, enrolled, relying_party: Callable[..., Relying]
) -> None:
    national_id = enrolled()
    first = relying_party("identity:ekyc", "identity:auth", auth_types=("demo",), ekyc=("sex",), name="A")
    second = relying_party("identity:ekyc", auth_types=("demo",), ekyc=("sex",), name="B")
    token_a = client.post("/identity/ekyc", json=auth_body(national_id), headers=first.headers).json()["partner_token"]
    token_b = client.post("/identity/ekyc", json=auth_body(national_id), headers=second.headers).json()["partner_token"]
    assert token_a != token_b
    assert (
        token_a
        == client.post("/identity/ekyc", json=auth_body(national_id), headers=first.headers).json()["partner_token"]
    )
    assert partner_token(secret="x" * 16, partner_id=1, national_id=national_id) != partner_token(
        secret="y" * 16, partner_id=1, national_id=national_id
    )
    refused = client.post("/identity/auth", json=auth_body(token_a), headers=first.headers)
    assert refused.status_code == 422


def test_ekyc_without_consent_or_attributes_is_refused(
    client: TestClient, enrolled, relying_party: Callable[..., Relying]
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:ekyc", auth_types=("demo",), ekyc=("sex",))
    assert (
        client.post("/identity/ekyc", json=auth_body(national_id, consent=False), headers=bank.headers).status_code
        == 422
    )
    bare = relying_party("identity:ekyc", auth_types=("demo",))
    response = client.post("/identity/ekyc", json=auth_body(national_id), headers=bare.headers)
    assert response.status_code == 403
    assert "eKYC" in response.json()["detail"]


def test_failed_ekyc_shares_nothing(client: TestClient, enrolled, relying_party: Callable[..., Relying]) -> None:
    national_id = enrolled()
    bank = relying_party("identity:ekyc", auth_types=("demo",), ekyc=("given_name",))
    body = client.post(
        "/identity/ekyc", json=auth_body(national_id, demographics={"sex": "M"}), headers=bank.headers
    ).json()
    assert body["authenticated"] is False
    assert body["attributes"] == {} and body["partner_token"] is None


def test_policy_is_set_by_an_admin_and_read_back(
    client: TestClient, relying_party: Callable[..., Relying], api_headers
) -> None:
    bank = relying_party("identity:auth")
    admin = api_headers("identity:admin")
    policy = {"auth_types": ["otp", "demo"], "ekyc_attributes": ["sex"]}
    response = client.put(f"/identity/partners/{bank.id}/policy", json=policy, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"partner_id": bank.id, "auth_types": ["demo", "otp"], "ekyc_attributes": ["sex"]}
    assert client.get(f"/identity/partners/{bank.id}/policy", headers=admin).json()["auth_types"] == ["demo", "otp"]
    bad = client.put(f"/identity/partners/{bank.id}/policy", json={"auth_types": ["iris"]}, headers=admin)
    assert bad.status_code == 422
    assert client.put("/identity/partners/999999/policy", json=policy, headers=admin).status_code == 404
    assert client.put(f"/identity/partners/{bank.id}/policy", json=policy, headers=bank.headers).status_code == 403
