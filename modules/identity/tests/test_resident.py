from collections.abc import Callable

import phonenumbers
import pytest
from fastapi.testclient import TestClient

from .conftest import ADDRESS, LEVELS, OTHER_PHONE, PHONE, Relying
from .test_auth import auth_body


@pytest.fixture
def portal(relying_party: Callable[..., Relying]) -> Relying:
    return relying_party("identity:resident", name="Resident portal")


def open_session(client: TestClient, portal: Relying, read_otp, individual_id: str, id_type: str = "nid") -> dict:
    ident = {"transaction_id": "portal-0000001", "individual_id": individual_id, "id_type": id_type}
    assert client.post("/identity/resident/otp", json=ident, headers=portal.headers).status_code == 200
    response = client.post("/identity/resident/sessions", json={**ident, "otp": read_otp()}, headers=portal.headers)
    assert response.status_code == 201, response.text
    return {**portal.headers, "X-Resident-Session": response.json()["session_token"]}


def test_resident_sees_who_authenticated_them(
    client: TestClient, enrolled, portal: Relying, relying_party, read_otp
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:auth", auth_types=("demo",), name="Equity Bank")
    client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers)
    client.post(
        "/identity/auth", json=auth_body(national_id, "txn-00000002", demographics={"sex": "M"}), headers=bank.headers
    )
    headers = open_session(client, portal, read_otp, national_id)
    history = client.get("/identity/resident/authentications", headers=headers).json()
    bank_rows = [row for row in history if row["partner"] == "Equity Bank"]
    assert [(r["result"], r["factors"], r["transaction_id"]) for r in bank_rows] == [
        ("failure", ["demo"], "txn-00000002"),
        ("success", ["demo"], "txn-00000001"),
    ]
    assert history[0]["action"] == "identity.resident.session"


def test_resident_endpoints_need_a_session(client: TestClient, enrolled, portal: Relying) -> None:
    enrolled()
    assert client.get("/identity/resident/me", headers=portal.headers).status_code == 401
    forged = {**portal.headers, "X-Resident-Session": "not-a-session"}
    assert client.get("/identity/resident/me", headers=forged).status_code == 401


def test_wrong_otp_opens_no_session(client: TestClient, enrolled, portal: Relying, read_otp) -> None:
    national_id = enrolled()
    ident = {"transaction_id": "portal-0000001", "individual_id": national_id}
    client.post("/identity/resident/otp", json=ident, headers=portal.headers)
    wrong = str((int(read_otp()) + 1) % 1_000_000).zfill(6)
    response = client.post("/identity/resident/sessions", json={**ident, "otp": wrong}, headers=portal.headers)
    assert response.status_code == 401


def test_contact_update_keeps_history(client: TestClient, enrolled, portal: Relying, read_otp) -> None:
    national_id = enrolled()
    headers = open_session(client, portal, read_otp, national_id)
    national = phonenumbers.format_number(OTHER_PHONE, phonenumbers.PhoneNumberFormat.NATIONAL)
    update = {"phone": national, "address": {LEVELS[0]: "Second city", LEVELS[-1]: "Old town"}}
    response = client.put("/identity/resident/contact", json=update, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == phonenumbers.format_number(OTHER_PHONE, phonenumbers.PhoneNumberFormat.E164)
    history = client.get("/identity/resident/contact/history", headers=headers).json()
    assert {(h["field"], str(h["old_value"])) for h in history} == {
        ("phone", PHONE),
        ("address", str(ADDRESS)),
    }
    bad = client.put("/identity/resident/contact", json={"address": {"planet": "Mars"}}, headers=headers)
    assert bad.status_code == 422
    assert client.put("/identity/resident/contact", json={}, headers=headers).status_code == 422


def test_resident_locks_and_unlocks_a_factor(
    client: TestClient, enrolled, portal: Relying, relying_party, read_otp
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:auth", auth_types=("demo",))
    headers = open_session(client, portal, read_otp, national_id)
    assert client.put("/identity/resident/locks/demo", json={"locked": True}, headers=headers).json() == ["demo"]
    refused = client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers).json()
    assert refused["authenticated"] is False and "locked by the resident" in refused["reason"]
    assert client.put("/identity/resident/locks/demo", json={"locked": False}, headers=headers).json() == []
    assert client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers).json()["authenticated"]
    # A lock on another factor leaves this one usable.
    assert client.put("/identity/resident/locks/otp", json={"locked": True}, headers=headers).json() == ["otp"]
    assert client.post("/identity/auth", json=auth_body(national_id), headers=bank.headers).json()["authenticated"]
    assert client.put("/identity/resident/locks/iris", json={"locked": True}, headers=headers).status_code == 422


def test_vid_works_for_authentication_and_can_be_revoked(
    client: TestClient, enrolled, portal: Relying, relying_party, read_otp
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:auth", auth_types=("demo",))
    headers = open_session(client, portal, read_otp, national_id)
    created = client.post("/identity/resident/vids", json={"kind": "perpetual"}, headers=headers)
    assert created.status_code == 201, created.text
    vid = created.json()["vid"]
    assert len(vid) == 16 and vid != national_id
    body = auth_body(vid, id_type="vid")
    assert client.post("/identity/auth", json=body, headers=bank.headers).json()["authenticated"] is True
    assert client.post("/identity/resident/vids/revoke", json={"vid": vid}, headers=headers).json()["revoked"] is True
    revoked = client.post("/identity/auth", json=body, headers=bank.headers)
    assert revoked.status_code == 409
    assert "revoked" in revoked.json()["detail"]


def test_temporary_vid_has_a_use_limit_and_expiry(
    client: TestClient, enrolled, portal: Relying, relying_party, read_otp
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:auth", auth_types=("demo",))
    headers = open_session(client, portal, read_otp, national_id)
    vid = client.post("/identity/resident/vids", json={"kind": "temporary"}, headers=headers).json()
    assert vid["uses_left"] == 1 and vid["expires_at"] is not None
    body = auth_body(vid["vid"], id_type="vid")
    assert client.post("/identity/auth", json=body, headers=bank.headers).json()["authenticated"] is True
    used_up = client.post("/identity/auth", json=body, headers=bank.headers)
    assert used_up.status_code == 409 and "no uses left" in used_up.json()["detail"]


def test_a_new_perpetual_vid_revokes_the_old_one(client: TestClient, enrolled, portal: Relying, read_otp) -> None:
    headers = open_session(client, portal, read_otp, enrolled())
    first = client.post("/identity/resident/vids", json={"kind": "perpetual"}, headers=headers).json()["vid"]
    client.post("/identity/resident/vids", json={"kind": "perpetual"}, headers=headers)
    listed = {v["vid"]: v["revoked"] for v in client.get("/identity/resident/vids", headers=headers).json()}
    assert listed[first] is True and list(listed.values()).count(False) == 1


def test_vid_opens_a_resident_session_too(client: TestClient, enrolled, portal: Relying, read_otp) -> None:
    national_id = enrolled()
    headers = open_session(client, portal, read_otp, national_id)
    vid = client.post("/identity/resident/vids", json={"kind": "perpetual"}, headers=headers).json()["vid"]
    via_vid = open_session(client, portal, read_otp, vid, id_type="vid")
    assert client.get("/identity/resident/me", headers=via_vid).json()["national_id"] == national_id
