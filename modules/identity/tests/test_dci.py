"""DCI civil-registration events, subscriptions and registry search (dci.py, dci_subscriptions.py).

The messages these tests send and the answers they get are validated against the DCI registry core API
v1.0.0's own schemas (tests/dci_spec/, an unchanged excerpt of the published document); subscriptions
go to a registry on 127.0.0.1 (dci_registry.py) over HTTP, which checks them and our signature.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs  # schemathesis's validator, already among the test dependencies
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from ....core.db import make_session_factory
from ....core.models import AuditEvent
from ....core.ports import AssessedIncome, Disbursements
from ....core.registry import Ports
from ....core.settings import Settings
from .. import dci_subscriptions
from ..dci_router import NOTIFY_SCOPE, SEARCH_SCOPE
from ..models import DciMessage, DciSubscription
from .conftest import ADDRESS, Relying
from .dci_registry import Registry, registry_server

SPEC = yaml.safe_load((Path(__file__).parent / "dci_spec" / "registry_core_api_v1.0.0.excerpt.yaml").read_text())
REGISTRY = "crvs.example.org"


def conforms(instance: Any, component: str) -> None:
    """`instance` is valid by the specification's component schema (its $refs resolved within the excerpt)."""
    schema = {"components": SPEC["components"], "allOf": [{"$ref": f"#/components/schemas/{component}"}]}
    jsonschema_rs.Draft7Validator(schema).validate(instance)


def conforms_ack(answer: dict[str, Any]) -> None:
    schema = SPEC["components"]["responses"]["Response"]["content"]["application/json"]["schema"]
    jsonschema_rs.Draft7Validator({"components": SPEC["components"], **schema}).validate(answer)


def notify_body(*records: dict[str, Any], message_id: str | None = None, event_type: str | None = None) -> dict:
    events = []
    for number, record in enumerate(records):
        data: dict[str, Any] = {"version": "1.0.0", "reg_type": "ns:org:RegistryType:Civil"}
        data |= {"reg_record_type": "dci:PersonRecord", "reg_records": record}
        if event_type:
            data["reg_event_type"] = event_type
        events.append({"reference_id": f"EV-{number}", "timestamp": "2026-12-01T10:00:00+00:00", "data": data})
    body = {
        "header": {
            "version": "1.0.0",
            "message_id": message_id or str(uuid.uuid4()),
            "message_ts": "2026-12-01T10:00:00+00:00",
            "action": "notify",
            "status": "succ",
            "sender_id": REGISTRY,
            "receiver_id": "national-id-registry",
        },
        "message": {"transaction_id": "TX-1", "notify_event": events},
    }
    conforms(body["header"], "MsgCallbackHeader_V1.0.0")
    conforms(body["message"], "NotifyEventRequest")
    return body


def death(national_id: str, day: str = "2026-11-30") -> dict[str, Any]:
    return {"identifier_type": "UIN", "identifier": national_id, "deathdate": day}


def birth(brn: str, parent: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "identifier_type": "BRN",
        "identifier": brn,
        "name": {"given_name": "Neema", "sur_name": "Wanjiru"},
        "sex": "female",
        "birthdate": "2026-11-28",
    }
    if parent:
        record["parent1_identifier"] = {"identifier_type": "UIN", "identifier": parent}
    conforms(record, "dci_PersonRecord")
    return record


def search_body(national_id: str, message_id: str | None = None) -> dict[str, Any]:
    body = {
        "header": {
            "version": "1.0.0",
            "message_id": message_id or str(uuid.uuid4()),
            "message_ts": "2026-12-01T10:00:00+00:00",
            "action": "search",
            "sender_id": "sp-system",
            "receiver_id": "national-id-registry",
            "total_count": 1,
        },
        "message": {
            "transaction_id": "TX-S",
            "search_request": [
                {
                    "reference_id": "R-1",
                    "timestamp": "2026-12-01T10:00:00+00:00",
                    "search_criteria": {"query_type": "idtype-value", "query": {"type": "UIN", "value": national_id}},
                }
            ],
        },
    }
    conforms(body["header"], "MsgHeader_V1.0.0")
    conforms(body["message"], "SearchRequest")
    return body


def post_notify(client: TestClient, registry: Relying, body: dict) -> dict[str, Any]:
    response = client.post("/registry/notify", json=body, headers=registry.headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    conforms_ack(answer)
    return answer


def events(engine: Engine, action: str) -> list[AuditEvent]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def status_of(client: TestClient, api_headers, national_id: str) -> str:
    response = client.post(
        "/identity/persons/lookup", json={"national_id": national_id}, headers=api_headers("identity:read")
    )
    assert response.status_code == 200, response.text
    return response.json()["status"]


@pytest.fixture
def subscribed(client: TestClient, engine: Engine, settings: Settings, civil_registry: Relying) -> Iterator[Registry]:
    """A civil registry on 127.0.0.1, registered with its keys, which took our subscription to deaths and births."""
    with registry_server(REGISTRY) as registry:
        registry.our_jwks = client.get("/.well-known/jwks.json").json()
        made = subscribe(engine, settings, registry, ["death", "live_birth"])
        assert [s.state for s in made] == ["requested", "requested"]
        (request,) = registry.received
        answer = post_signed(
            client, civil_registry, "/registry/on-subscribe", registry.signed(registry.on_subscribe(request))
        )
        assert answer["message"]["ack_status"] == "ACK"
        yield registry


def subscribe(engine: Engine, settings: Settings, registry: Registry, events: list[str]) -> list[DciSubscription]:
    with make_session_factory(engine)() as session:
        found = dci_subscriptions.register(
            session=session,
            name=registry.name,
            base_url=registry.url,
            our_sender_id=registry.our_sender_id,
            our_url="https://id.example.gov",
            jwks_document=registry.jwks(),
            jwks_url=None,
        )
        return dci_subscriptions.subscribe(
            session=session,
            registry=found,
            events=events,
            secret=settings.secret_key.get_secret_value(),
            actor="test",
        )


def post_signed(client: TestClient, registry: Relying, path: str, body: bytes) -> dict[str, Any]:
    response = client.post(path, content=body, headers=registry.headers | {"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    conforms_ack(response.json())
    return response.json()


def subscriptions(engine: Engine) -> list[tuple[str, str, str | None]]:
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(DciSubscription).order_by(DciSubscription.id))
        return [(s.event_type, s.state, s.subscription_code) for s in rows]


@pytest.mark.selection  # payments and tax are told when installed
@pytest.mark.parametrize("reported_by", ["civil registry", "subscribed registry", "registrar"])
def test_a_death_reaches_payments_and_tax_end_to_end(
    request: pytest.FixtureRequest,
    client: TestClient,
    enrolled,
    civil_registry: Relying,
    api_headers,
    ports: Ports,
    engine: Engine,
    country,
    reported_by: str,
) -> None:
    """A civil registry's DCI notification (signed when we subscribe to it), or a registrar's lifecycle change:
    the same listeners hear of it."""
    dying, living = enrolled(), enrolled(given_name="Baraka", date_of_birth="1970-01-02")
    payments = ports.get(Disbursements) is not None
    tax = ports.get(AssessedIncome) is not None
    if payments:
        pay = api_headers("payments:link", "payments:programme", "payments:read")
        for person in (dying, living):
            body = {
                "beneficiary": {"national_id": person},
                "account": {"kind": "iban", "number": "DE89 3704 0044 0532 0130 00"},
            }
            assert client.post("/payments/accounts", json=body, headers=pay).status_code == 201
        programme = {
            "code": "DCI-CASH",
            "name": "Cash",
            "currency": country.profile.currency,
            "source": "enrolled",
            "eligibility": [{"attribute": "age", "op": ">=", "value": 18}],
            "entitlement": {"flat": 5_000},
        }
        assert client.post("/payments/programmes", json=programme, headers=pay).status_code == 201
        items = [{"beneficiary": {"national_id": p}, "attributes": {"age": 40}} for p in (dying, living)]
        assert (
            client.post("/payments/programmes/DCI-CASH/enrolments", json={"items": items}, headers=pay).status_code
            == 200
        )
        before = client.post("/payments/programmes/DCI-CASH/cycles", json={"name": "before"}, headers=pay)
        assert before.status_code == 201, before.text
        assert before.json()["instruction_count"] == 2
    if tax:
        clerk = api_headers("tax:register", "tax:read")
        registered = client.post(
            "/tax/taxpayers", json={"kind": "individual", "name": "Amina Wanjiru", "national_id": dying}, headers=clerk
        )
        assert registered.status_code == 201, registered.text
        tin = registered.json()["tin"]

    if reported_by == "subscribed registry":
        registry: Registry = request.getfixturevalue("subscribed")
        source = f"dci:{REGISTRY}"
        body = registry.signed(notify_body(death(dying), event_type="death"))
        answer = post_signed(client, civil_registry, "/registry/notify", body)
        assert answer["message"]["ack_status"] == "ACK"
        assert answer["message"]["notify_status"] == [{"reference_id": "EV-0", "status": "succ"}]
    elif reported_by == "civil registry":
        source = f"dci:{REGISTRY}"
        answer = post_notify(client, civil_registry, notify_body(death(dying), event_type="death"))
        assert answer["message"]["ack_status"] == "ACK"
        assert answer["message"]["notify_status"] == [{"reference_id": "EV-0", "status": "succ"}]
    else:
        source = "identity:lifecycle"
        body = {"national_id": dying, "status": "deceased", "reason": "death certificate DC-7"}
        died = client.post("/identity/persons/status", json=body, headers=api_headers("identity:admin"))
        assert died.status_code == 200, died.text

    assert status_of(client, api_headers, dying) == "deceased"
    assert status_of(client, api_headers, living) == "active"
    (deceased,) = events(engine, "identity.person.deceased")
    if reported_by != "registrar":
        assert deceased.detail["source"] == source and deceased.detail["date_of_death"] == "2026-11-30"
        assert deceased.actor == "partner:Civil registry"
    else:
        assert deceased.detail["reason"] == "death certificate DC-7"
    if payments:
        after = client.post("/payments/programmes/DCI-CASH/cycles", json={"name": "after"}, headers=pay)
        assert after.status_code == 201, after.text
        assert after.json()["instruction_count"] == 1  # the dead person is left out; the living one is paid
        (stopped,) = events(engine, "payments.beneficiary.stopped")
        assert stopped.detail["source"] == source
    if tax:
        shown = client.get(f"/tax/taxpayers/{tin}", headers=clerk)
        assert shown.json()["status"] == "deceased"
        (changed,) = events(engine, "tax.taxpayer.status")
        assert changed.detail["to"] == "deceased" and changed.detail["source"] == source


def test_a_replayed_message_gets_the_same_answer_and_changes_nothing_twice(
    client: TestClient, enrolled, civil_registry: Relying, api_headers, engine: Engine
) -> None:
    person = enrolled()
    body = notify_body(death(person), message_id="M-REPLAY")
    first = post_notify(client, civil_registry, body)
    assert post_notify(client, civil_registry, body) == first
    # The same death told again in a new message: accepted, nothing more happens.
    again = post_notify(client, civil_registry, notify_body(death(person)))
    assert again["message"]["notify_status"][0]["status"] == "succ"
    assert len(events(engine, "identity.person.deceased")) == 1
    # Another message reusing the id is refused.
    reused = post_notify(
        client, civil_registry, notify_body(death(enrolled(given_name="Zawadi")), message_id="M-REPLAY")
    )
    assert reused["message"]["ack_status"] == "ERR"
    assert "rjct.message_id.duplicate" in reused["message"]["error"]["message"]
    assert status_of(client, api_headers, person) == "deceased"


def test_a_live_birth_enrols_the_child_with_the_birth_registration_number(
    client: TestClient, enrolled, civil_registry: Relying, api_headers
) -> None:
    mother = enrolled()
    answer = post_notify(client, civil_registry, notify_body(birth("BRN2026000123", parent=mother)))
    assert answer["message"]["notify_status"] == [{"reference_id": "EV-0", "status": "succ"}]
    enrolment = client.get("/identity/enrolments/BRN-BRN2026000123", headers=api_headers("identity:read"))
    assert enrolment.status_code == 200, enrolment.text
    assert enrolment.json()["status"] == "issued"
    child = client.post(
        "/identity/persons/lookup",
        json={"national_id": enrolment.json()["national_id"]},
        headers=api_headers("identity:read"),
    ).json()
    assert (child["given_name"], child["date_of_birth"], child["sex"]) == ("Neema", "2026-11-28", "F")
    assert child["address"] == ADDRESS and child["phone"] is None  # the mother's address
    # Told twice: one child.
    again = post_notify(client, civil_registry, notify_body(birth("BRN2026000123", parent=mother)))
    assert again["message"]["notify_status"][0]["status"] == "succ"
    assert (
        client.get("/identity/enrolments/BRN-BRN2026000123", headers=api_headers("identity:read")).json()
        == enrolment.json()
    )


def test_events_refused_in_band_name_what_is_wrong(client: TestClient, enrolled, civil_registry: Relying) -> None:
    body = notify_body(
        death("0000000000"),
        {"identifier_type": "MRN", "identifier": "M-1"},
        birth("BRN-1") | {"birthdate": "2026-13-01"},
        death(enrolled()),
    )
    statuses = post_notify(client, civil_registry, body)["message"]["notify_status"]
    assert [s["status"] for s in statuses] == ["rjct", "rjct", "rjct", "succ"]
    assert statuses[0]["status_reason_message"].startswith("national_id")
    assert statuses[1]["status_reason_code"] == "rjct.event_type.invalid"
    assert statuses[2]["status_reason_code"] == "rjct.birthdate.invalid"


def test_a_bad_envelope_is_refused_naming_the_field(client: TestClient, civil_registry: Relying) -> None:
    body = notify_body(death("0000000000"))
    del body["header"]["message_id"]
    response = client.post("/registry/notify", json=body, headers=civil_registry.headers)
    assert response.status_code == 422
    assert "message_id" in response.text
    body = notify_body(death("0000000000"))
    body["header"]["action"] = "search"
    response = client.post("/registry/notify", json=body, headers=civil_registry.headers)
    assert response.status_code == 422 and "action" in response.text


def test_only_partners_holding_the_scopes_reach_the_routes(
    client: TestClient, relying_party: Callable[..., Relying]
) -> None:
    assert client.post("/registry/notify", json=notify_body(death("0000000000"))).status_code == 401
    other = relying_party(SEARCH_SCOPE, name="Searcher")
    assert (
        client.post("/registry/notify", json=notify_body(death("0000000000")), headers=other.headers).status_code == 403
    )
    registry = relying_party(NOTIFY_SCOPE, name="Registry")
    assert (
        client.post("/registry/sync/search", json=search_body("0000000000"), headers=registry.headers).status_code
        == 403
    )


def test_search_by_uin_answers_what_the_policy_allows(
    client: TestClient, enrolled, relying_party: Callable[..., Relying], engine: Engine
) -> None:
    person = enrolled()
    agency = relying_party(SEARCH_SCOPE, auth_types=("demo",), ekyc=("given_name", "date_of_birth"), name="Agency")
    response = client.post("/registry/sync/search", json=search_body(person), headers=agency.headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    conforms(answer["header"], "MsgCallbackHeader_V1.0.0")
    conforms(answer["message"], "SearchResponse")
    (result,) = answer["message"]["search_response"]
    assert result["status"] == "succ"
    assert result["data"]["reg_records"] == {
        "identifier_type": "UIN",
        "identifier": person,
        "status": "active",
        "name": {"given_name": "Amina"},
        "birthdate": "1985-04-12",
    }
    (read,) = events(engine, "identity.dci.search")
    assert read.subject == f"person:{person}" and read.actor == "partner:Agency"
    # Replayed: the same answer, not read again.
    body = search_body(person, message_id="S-1")
    first = client.post("/registry/sync/search", json=body, headers=agency.headers).json()
    assert client.post("/registry/sync/search", json=body, headers=agency.headers).json() == first
    assert len(events(engine, "identity.dci.search")) == 2
    # Nobody holds the UIN: succeeds, with no record.
    unknown = client.post("/registry/sync/search", json=search_body("0000000000"), headers=agency.headers).json()
    assert unknown["message"]["search_response"][0]["status"] in ("succ", "rjct")
    assert "data" not in unknown["message"]["search_response"][0]
    # A partner without eKYC attributes in its policy gets nothing.
    bare = relying_party(SEARCH_SCOPE, name="Bare")
    refused = client.post("/registry/sync/search", json=search_body(person), headers=bare.headers).json()
    assert refused["message"]["search_response"][0]["status"] == "rjct"
    assert "data" not in refused["message"]["search_response"][0]


def test_a_subscription_gets_its_codes_and_ends_on_unsubscribe(
    client: TestClient, engine: Engine, settings: Settings, civil_registry: Relying, subscribed: Registry
) -> None:
    """subscribe (ACK, then the registry's signed on-subscribe with codes), then unsubscribe, over HTTP."""
    (request,) = subscribed.received
    header = request["header"]
    assert (header["action"], header["receiver_id"], header["sender_uri"]) == (
        "subscribe",
        REGISTRY,
        "https://id.example.gov",
    )
    asked = [r["subscribe_criteria"]["reg_event_type"] for r in request["message"]["subscribe_request"]]
    assert asked == ["death", "live_birth"]
    states = subscriptions(engine)
    assert [(e, s) for e, s, _ in states] == [("death", "subscribed"), ("live_birth", "subscribed")]
    assert all(code and code.startswith("SUB-") for _, _, code in states)
    # Asking again for what is subscribed is refused, and nothing is sent.
    with pytest.raises(dci_subscriptions.Conflict):
        subscribe(engine, settings, subscribed, ["death"])
    assert len(subscribed.received) == 1

    with make_session_factory(engine)() as session:
        ended = dci_subscriptions.unsubscribe(
            session=session,
            registry=dci_subscriptions.registry_named(session, REGISTRY),
            events=["death"],
            secret=settings.secret_key.get_secret_value(),
            actor="test",
        )
        assert [s.state for s in ended] == ["unsubscribing"]
    stop = subscribed.received[-1]
    assert stop["header"]["action"] == "unsubscribe" and stop["message"]["subscription_codes"] == [states[0][2]]
    answer = post_signed(
        client, civil_registry, "/registry/on-unsubscribe", subscribed.signed(subscribed.on_unsubscribe(stop))
    )
    assert answer["message"]["ack_status"] == "ACK"
    assert [(e, s) for e, s, _ in subscriptions(engine)] == [("death", "unsubscribed"), ("live_birth", "subscribed")]
    # A late on-subscribe does not revive an ended subscription.
    post_signed(client, civil_registry, "/registry/on-subscribe", subscribed.signed(subscribed.on_subscribe(request)))
    assert subscriptions(engine)[0][1] == "unsubscribed"
    changes = [e.detail["state"] for e in events(engine, "identity.dci.subscription")]
    assert changes == ["subscribed", "subscribed", "unsubscribed"]


def test_a_tampered_or_unsigned_message_of_a_subscribed_registry_changes_nothing(
    client: TestClient, enrolled, engine: Engine, civil_registry: Relying, api_headers, subscribed: Registry
) -> None:
    person = enrolled()
    body = notify_body(death(person))
    tampered = post_signed(client, civil_registry, "/registry/notify", subscribed.signed(body, tamper=True))
    assert tampered["message"]["ack_status"] == "ERR"
    assert tampered["message"]["error"]["code"] == "err.signature.invalid"
    unsigned = post_signed(client, civil_registry, "/registry/notify", json.dumps(body).encode())
    assert unsigned["message"]["error"]["code"] == "err.signature.missing"
    other = Registry(name=REGISTRY)  # another key claiming the registry's name
    forged = post_signed(client, civil_registry, "/registry/notify", other.signed(notify_body(death(person))))
    assert forged["message"]["error"]["code"] == "err.signature.invalid"
    assert status_of(client, api_headers, person) == "active"
    assert events(engine, "identity.person.deceased") == [] and events(engine, "identity.dci.notify") == []
    with make_session_factory(engine)() as session:
        assert session.scalars(select(DciMessage)).all() == []
    # The same message, signed as sent: applied.
    signed = post_signed(client, civil_registry, "/registry/notify", subscribed.signed(body))
    assert signed["message"]["notify_status"] == [{"reference_id": "EV-0", "status": "succ"}]
    assert status_of(client, api_headers, person) == "deceased"


def test_a_refused_subscription_keeps_the_registrys_reason(
    client: TestClient, engine: Engine, settings: Settings, civil_registry: Relying
) -> None:
    with registry_server(REGISTRY) as registry:
        registry.our_jwks = client.get("/.well-known/jwks.json").json()
        subscribe(engine, settings, registry, ["live_birth"])
        refusal = registry.on_subscribe(registry.received[0], refuse="rjct.notify_types.invalid")
        post_signed(client, civil_registry, "/registry/on-subscribe", registry.signed(refusal))
    with make_session_factory(engine)() as session:
        (refused,) = session.scalars(select(DciSubscription)).all()
        assert refused.state == "refused" and refused.reason == "rjct.notify_types.invalid: not for you"


def test_an_unreachable_or_refusing_registry_is_reported_and_nothing_is_kept(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    with registry_server(REGISTRY) as registry:
        registry.our_jwks = client.get("/.well-known/jwks.json").json()
        registry.answer_status = 503
        with pytest.raises(dci_subscriptions.RegistryUnreachable, match=r"HTTP 503 ERR.*err.service.unavailable"):
            subscribe(engine, settings, registry, ["death"])
        gone = registry.url
    with pytest.raises(dci_subscriptions.RegistryUnreachable, match="ConnectError"):
        subscribe(engine, settings, Registry(name=REGISTRY, url=gone), ["death"])
    assert subscriptions(engine) == []
    with make_session_factory(engine)() as session:
        assert session.scalars(select(dci_subscriptions.DciRegistry)).all() == []
