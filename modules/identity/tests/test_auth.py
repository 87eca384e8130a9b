from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ....conftest import TEST_SECRET
from ....core.audit import events_for, verify_chain
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.errors import Unprocessable
from ....core.models import Partner
from ..auth import ConsentRequired, authenticate, authenticate_committed
from ..config import IdentitySettings, identity_settings
from ..domain import AuthAttempt, Demographics
from ..schemas import AuthRequest
from .conftest import PHONE, Relying

AUTH = "identity:auth"
AMINA = Demographics(given_name="Amina", family_name="Wanjiru", date_of_birth=date(1985, 4, 12))


def auth_body(national_id: str, transaction: str = "txn-00000001", **changes: object) -> dict:
    body = {
        "transaction_id": transaction,
        "individual_id": national_id,
        "consent": True,
        "demographics": {"given_name": "Amina", "family_name": "Wanjiru", "date_of_birth": "1985-04-12"},
    }
    body.update(changes)
    return body


@pytest.fixture
def bank(relying_party: Callable[..., Relying]) -> Relying:
    return relying_party(AUTH, auth_types=("demo", "otp"))


def test_demographic_match_is_yes_and_mismatch_is_no(client: TestClient, enrolled, bank: Relying) -> None:
    national_id = enrolled()
    yes = client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers)
    assert yes.status_code == 200, yes.text
    assert yes.json() == {
        "transaction_id": "txn-00000001",
        "authenticated": True,
        "factors": ["demo"],
        "reason": None,
    }
    wrong = auth_body(national_id, demographics={"given_name": "Amina", "date_of_birth": "1985-04-13"})
    no = client.post("/identity/auth", json=wrong, headers=bank.headers).json()
    assert no["authenticated"] is False
    assert no["reason"] == "did not match: demo"


def test_names_match_case_and_accent_insensitively(client: TestClient, enrolled, bank: Relying) -> None:
    national_id = enrolled()
    body = auth_body(national_id, demographics={"given_name": " AMINA", "family_name": "Wanjirú"})
    assert client.post("/identity/auth", json=body, headers=bank.headers).json()["authenticated"] is True


def test_every_request_needs_consent(client: TestClient, enrolled, bank: Relying) -> None:
    national_id = enrolled()
    response = client.post("/identity/auth", json=auth_body(national_id, consent=False), headers=bank.headers)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("consent:")
    missing = auth_body(national_id)
    del missing["consent"]
    assert client.post("/identity/auth", json=missing, headers=bank.headers).status_code == 422
    no_txn = auth_body(national_id)
    del no_txn["transaction_id"]
    assert client.post("/identity/auth", json=no_txn, headers=bank.headers).status_code == 422


def test_otp_is_delivered_through_the_outbox_and_works_once(
    client: TestClient, enrolled, bank: Relying, read_otp
) -> None:
    national_id = enrolled()
    sent = client.post(
        "/identity/otp",
        json={"transaction_id": "txn-00000001", "individual_id": national_id, "consent": True},
        headers=bank.headers,
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["sent_to"].endswith(PHONE[-2:]) and "*" in sent.json()["sent_to"]
    code = read_otp()
    body = auth_body(national_id, demographics=None, otp=code)
    assert client.post("/identity/auth", json=body, headers=bank.headers).json()["authenticated"] is True
    again = client.post("/identity/auth", json=body, headers=bank.headers).json()
    assert again["authenticated"] is False
    other_txn = client.post(
        "/identity/auth", json=auth_body(national_id, "txn-00000002", otp=code), headers=bank.headers
    )
    assert other_txn.json()["authenticated"] is False


def test_partner_without_policy_or_factor_is_refused(
    client: TestClient, enrolled, relying_party: Callable[..., Relying]
) -> None:
    national_id = enrolled()
    no_policy = relying_party(AUTH)
    response = client.post("/identity/auth", json=auth_body(national_id), headers=no_policy.headers)
    assert response.status_code == 403
    assert "no identity policy" in response.json()["detail"]
    otp_only = relying_party(AUTH, auth_types=("otp",))
    response = client.post("/identity/auth", json=auth_body(national_id), headers=otp_only.headers)
    assert response.status_code == 403
    assert "may not use demo" in response.json()["detail"]


def test_bad_check_digit_is_a_clear_error(client: TestClient, enrolled, bank: Relying) -> None:
    national_id = enrolled()
    wrong = national_id[:-1] + str((int(national_id[-1]) + 1) % 10)
    response = client.post("/identity/auth", json=auth_body(wrong), headers=bank.headers)
    assert response.status_code == 422
    assert "check digit" in response.json()["detail"]


def test_repeated_failures_lock_the_id_out(client: TestClient, enrolled, bank: Relying, monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_AUTH_MAX_FAILURES", "3")
    configured = IdentitySettings()
    client.app.dependency_overrides[identity_settings] = lambda: configured
    try:
        national_id = enrolled()
        wrong = auth_body(national_id, demographics={"date_of_birth": "1999-01-01"})
        for _ in range(3):
            assert client.post("/identity/auth", json=wrong, headers=bank.headers).status_code == 200
        locked = client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers)
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        assert locked.headers["content-type"] == "application/problem+json"
        assert locked.json()["detail"].startswith("individual_id: ")
    finally:
        client.app.dependency_overrides.pop(identity_settings)


def test_success_resets_the_failure_count(client: TestClient, enrolled, bank: Relying, monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_AUTH_MAX_FAILURES", "2")
    configured = IdentitySettings()
    client.app.dependency_overrides[identity_settings] = lambda: configured
    try:
        national_id = enrolled()
        wrong = auth_body(national_id, demographics={"sex": "M"})
        client.post("/identity/auth", json=wrong, headers=bank.headers)
        client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers)
        client.post("/identity/auth", json=wrong, headers=bank.headers)
        assert client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers).status_code == 200
    finally:
        client.app.dependency_overrides.pop(identity_settings)


def test_each_attempt_is_audited_under_the_person(
    client: TestClient, enrolled, bank: Relying, session: Session
) -> None:
    national_id = enrolled()
    client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers)
    client.post("/identity/auth", json=auth_body(national_id, demographics={"sex": "M"}), headers=bank.headers)
    events = [e for e in events_for(session=session, subject=f"person:{national_id}") if e.action == "identity.auth"]
    assert [e.detail["result"] for e in events] == ["failure", "success"]
    assert events[0].actor == "Bank"
    assert events[0].detail["transaction_id"] == "txn-00000001"
    assert events[0].detail["factors"] == ["demo"]


def test_inactive_id_does_not_authenticate(client: TestClient, enrolled, bank: Relying, api_headers) -> None:
    national_id = enrolled()
    admin = api_headers("identity:admin")
    died = client.post(
        "/identity/persons/status",
        json={"national_id": national_id, "status": "deceased", "reason": "DC-1"},
        headers=admin,
    )
    assert died.status_code == 200 and died.json()["status"] == "deceased"
    result = client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers).json()
    assert result == {**result, "authenticated": False, "reason": "the ID is deceased"}
    back = client.post(
        "/identity/persons/status",
        json={"national_id": national_id, "status": "active", "reason": "error"},
        headers=admin,
    )
    assert back.json()["status"] == "active"
    assert client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers).json()["authenticated"]


def test_concurrent_authentications_are_each_audited_in_one_intact_chain(
    engine: Engine, country: LoadedCountry, enrolled, bank: Relying, session: Session
) -> None:
    national_id = enrolled()
    partner = session.get(Partner, bank.id)
    factory = make_session_factory(engine)
    transactions = [f"txn-{number:08d}" for number in range(40)]

    def authenticate(transaction: str) -> bool:
        result = authenticate_committed(
            session_factory=factory,
            attempt=AuthAttempt(transaction, national_id, consent=True, demographics=AMINA),
            partner=partner,
            country=country,
            settings=IdentitySettings(),
            secret=TEST_SECRET,
        )
        return result.authenticated

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(authenticate, transactions))
    events = events_for(session=session, subject=f"person:{national_id}", limit=100)
    assert sorted(e.detail["transaction_id"] for e in events if e.action == "identity.auth") == transactions
    assert verify_chain(session=session).intact


def _authenticate_directly(session: Session, country: LoadedCountry, bank: Relying, attempt: AuthAttempt):
    return authenticate(
        session=session,
        attempt=attempt,
        partner=session.get(Partner, bank.id),
        country=country,
        settings=IdentitySettings(),
        secret=TEST_SECRET,
    )


def test_the_service_authenticates_a_domain_value_without_http(
    session: Session, country: LoadedCountry, enrolled, bank: Relying
) -> None:
    national_id = enrolled()
    matching = AuthAttempt("txn-direct-1", national_id, consent=True, demographics=AMINA)
    assert _authenticate_directly(session, country, bank, matching).authenticated
    born_later = Demographics(given_name="Amina", date_of_birth=date(1985, 4, 13))
    mismatching = AuthAttempt("txn-direct-2", national_id, consent=True, demographics=born_later)
    refused = _authenticate_directly(session, country, bank, mismatching)
    assert not refused.authenticated and refused.reason == "did not match: demo"


def test_the_service_names_the_field_it_refuses(
    session: Session, country: LoadedCountry, enrolled, bank: Relying
) -> None:
    national_id = enrolled()
    with pytest.raises(ConsentRequired) as no_consent:
        _authenticate_directly(session, country, bank, AuthAttempt("txn-direct-3", national_id, consent=False))
    assert no_consent.value.field == "consent"
    with pytest.raises(Unprocessable) as no_factor:
        _authenticate_directly(session, country, bank, AuthAttempt("txn-direct-4", national_id, consent=True))
    assert no_factor.value.detail.startswith("demographics, otp: ")


def test_the_api_body_becomes_the_same_domain_value() -> None:
    body = AuthRequest.model_validate(auth_body("1234567890", otp="123456"))
    expected = AuthAttempt("txn-00000001", "1234567890", consent=True, demographics=AMINA, otp="123456")
    assert body.as_attempt() == expected
