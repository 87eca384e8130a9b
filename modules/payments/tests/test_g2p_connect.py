"""The G2P Connect mapper adapter, tested as a sender sees it, against the published specification's schemas.

Every request the tests send is checked against the specification's request schema (but those made
wrong on purpose), and every answer,
acknowledgement and callback is checked against its schemas (tests/g2p_connect/, unchanged) and
its signature against our `/.well-known/jwks.json`, by the receiver's own code (g2p_receiver.py).
Callbacks go to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from stdnum import verhoeff
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....core.db import Base, make_session_factory
from ....core.jobs import installed_jobs
from ....core.models import AuditEvent, Partner, utcnow
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ....core.runtime import Runtime
from ....core.security import issue_partner_key
from ....core.settings import Settings
from .. import g2p, service
from .. import jobs as payment_jobs
from ..config import PaymentsSettings
from ..models import AccountLink, G2pMessage, G2pMessageState
from ..scopes import LINK_SCOPE, READ_SCOPE
from .conftest import enrol_person
from .g2p_receiver import (
    Receiver,
    Sender,
    assert_ack,
    assert_answer,
    assert_request,
    assert_token,
    now_text,
    receiver,
    verify_ours,
)

IBAN = "account:DE89370400440532013000@DEUTDEFF"
OTHER_IBAN = "account:GB82WEST12345698765432@WESTGB2L"
BANK = "account:1234567890@BANK01"
PATHS = {"txn-status": "txn/status"}


@dataclass
class Party:
    """A registered sender: its keys, its API key (the OAuth2 client secret) and how it signs."""

    sender: Sender
    key: str
    partner_id: int
    method: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


@pytest.fixture
def callbacks() -> Iterator[Receiver]:
    with receiver() as made:
        yield made


@pytest.fixture
def register(engine: Engine, callbacks: Receiver):
    """Register a partner as a sender: (method, details allowed, by JWKS URL) -> Party."""

    def make(method: str = "jws-header", *, details: bool = False, by_url: bool = False, sender_id: str = "bank-a"):
        sender = Sender(sender_id)
        callbacks.jwks = sender.jwks()
        with make_session_factory(engine).begin() as session:
            issued = issue_partner_key(session=session, name=f"Partner {sender_id}", scopes=[LINK_SCOPE, READ_SCOPE])
            g2p.register_sender(
                session=session,
                sender_id=sender_id,
                partner_id=issued.partner.id,
                signing_method=method,
                jwks_document=None if by_url else sender.jwks(),
                jwks_url=f"{callbacks.url}/jwks.json" if by_url else None,
                callback_uri=callbacks.url,
                resolve_details=details,
                actor="test",
            )
            return Party(sender, issued.key, issued.partner.id, method)

    return make


@pytest.fixture
def jwks(client: TestClient) -> dict[str, Any]:
    return client.get("/.well-known/jwks.json").json()


def send(
    client: TestClient,
    party: Party,
    operation: str,
    message: dict[str, Any],
    *,
    mode: str = "sync",
    envelope: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    check: bool = True,
    **header: Any,
):
    """POST a signed message the way the party was registered; the request is checked against the spec first."""
    envelope = envelope or party.sender.envelope(operation, message, **header)
    if check:
        assert_request(envelope, operation)
    if party.method == "body":
        envelope = {"signature": party.sender.body_signature(envelope), **envelope}
    body = json.dumps(envelope).encode()
    sent = {"Content-Type": "application/json", **(headers if headers is not None else party.headers)}
    if party.method == "jws-header":
        sent["Signature"] = party.sender.jws_header(body)
    path = PATHS.get(operation, operation)
    url = f"/mapper/sync/{path}" if mode == "sync" else f"/mapper/{path}"
    return client.post(url, content=body, headers=sent)


def ask_status(client: TestClient, party: Party, query: dict[str, Any], transaction_id: str, mode: str = "sync"):
    """A txn/status request. The published schema takes only a reference_id_list: a single value matches two of
    the `oneOf` alternatives of attribute_value (TransactionId and correlation_id are both strings): never valid."""
    body = {"transaction_id": transaction_id, "txnstatus_request": query}
    return send(client, party, "txn-status", body, mode=mode, check=isinstance(query["attribute_value"], list))


def answered(response, operation: str, jwks: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """A sync answer: its status, its signature (by our published key) and the spec's on-* schema."""
    assert response.status_code == status, response.text
    document = verify_ours(response.content, dict(response.headers), jwks)
    assert_answer(document, operation)
    return document


def acked(response, jwks: dict[str, Any], status: int = 200, ack: str = "ACK") -> dict[str, Any]:
    assert response.status_code == status, response.text
    document = verify_ours(response.content, dict(response.headers), jwks)
    assert_ack(document)
    assert document["message"]["ack_status"] == ack, document
    return document["message"]


def item(**fields: Any) -> dict[str, Any]:
    return {"reference_id": "r1", "timestamp": now_text(), **fields}


def message(operation: str, *items: dict[str, Any], transaction_id: str = "t1") -> dict[str, Any]:
    return {"transaction_id": transaction_id, f"{operation}_request": list(items)}


def results(document: dict[str, Any], operation: str) -> list[dict[str, Any]]:
    return document["message"][f"{operation}_response"]


def codes(document: dict[str, Any], operation: str) -> list[tuple[str, str | None]]:
    return [(i["status"], i.get("status_reason_code")) for i in results(document, operation)]


def deliver(runtime: Runtime, engine: Engine, settings: Settings, **overrides: Any) -> g2p.Delivered:
    """One run of the worker's job, as `payments.g2p_callbacks` does it."""
    return g2p.deliver_callbacks(
        session_factory=make_session_factory(engine),
        ports=runtime.ports,
        country=runtime.country,
        settings=runtime.settings_of(PaymentsSettings).model_copy(update=overrides),
        secret=settings.secret_key.get_secret_value(),
    )


# ---------------------------------------------------------------- keys and tokens


@pytest.mark.country_independent
def test_the_signing_key_is_published_and_client_credentials_get_a_token(client: TestClient, register, jwks) -> None:
    [key] = jwks["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in key
    party = register()
    form = {"grant_type": "client_credentials", "client_id": "bank-a", "client_secret": party.key}
    token = client.post("/oauth2/client/token", data=form)
    assert token.status_code == 200, token.text
    assert_token(token.json())
    assert token.json()["scope"] == "mapper.link mapper.update mapper.unlink mapper.resolve mapper.status"
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    resolved = send(client, party, "resolve", message("resolve", item(id="ext:NOBODY@nid")), headers=bearer)
    assert codes(answered(resolved, "resolve", jwks), "resolve") == [("succ", "succ.id.not_found")]

    wrong = client.post("/oauth2/client/token", data={**form, "client_secret": party.key + "x"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    other_client = client.post("/oauth2/client/token", data={**form, "client_id": "bank-b"})
    assert (other_client.status_code, other_client.json()["error"]) == (401, "invalid_client")
    grant = client.post("/oauth2/client/token", data={**form, "grant_type": "password"})
    assert (grant.status_code, grant.json()["error"]) == (400, "invalid_request")
    forged = send(
        client, party, "resolve", message("resolve", item(id="ext:X@nid")), headers={"Authorization": "Bearer a.b.c"}
    )
    assert forged.status_code == 401


@pytest.mark.country_independent
def test_a_revoked_key_ends_its_tokens_at_once(client: TestClient, register, engine: Engine) -> None:
    party = register()
    form = {"grant_type": "client_credentials", "client_id": "bank-a", "client_secret": party.key}
    bearer = {"Authorization": f"Bearer {client.post('/oauth2/client/token', data=form).json()['access_token']}"}
    with make_session_factory(engine).begin() as session:
        session.execute(update(Partner).where(Partner.id == party.partner_id).values(active=False))
    refused = send(client, party, "resolve", message("resolve", item(id="ext:X@nid")), headers=bearer)
    assert refused.status_code == 401


# ---------------------------------------------------------------- every operation, synchronous


@pytest.mark.parametrize("method", ["jws-header", "body"])
def test_every_operation_answers_at_once(client: TestClient, register, jwks, method: str, mobile_number) -> None:
    party = register(method, details=True)
    linked = send(client, party, "link", message("link", item(id="ext:AMINA@nid", fa=IBAN, name="Amina W")))
    assert codes(answered(linked, "link", jwks), "link") == [("succ", None)]

    def resolve(**fields: Any) -> tuple[str, str | None, dict[str, Any]]:
        document = answered(send(client, party, "resolve", message("resolve", item(**fields))), "resolve", jwks)
        [result] = results(document, "resolve")
        return result["status"], result.get("status_reason_code"), result

    status, code, result = resolve(id="ext:AMINA@nid")
    assert (status, code) == ("succ", "succ.id.active") and "fa" not in result  # yes_no: no account given away
    status, code, result = resolve(id="ext:AMINA@nid", scope="details")
    assert (code, result["fa"], result["account_provider_info"]["code"]) == ("succ.id.active", IBAN, "DEUTDEFF")
    assert resolve(id="ext:AMINA@nid", fa=IBAN)[1] == "succ.fa.active"
    assert resolve(id="ext:AMINA@nid", fa=BANK)[1] == "succ.fa.not_linked_to_id"

    mobile = f"mobile:{mobile_number.replace(' ', '')}@MPESA"
    updated = send(client, party, "update", message("update", item(id="ext:AMINA@nid", fa=mobile)))
    assert codes(answered(updated, "update", jwks), "update") == [("succ", None)]
    assert resolve(fa=IBAN)[1] == "succ.fa.inactive"  # linked before the update
    status, code, result = resolve(fa=mobile, scope="details")
    assert code == "succ.fa.active" and result["fa"].startswith("mobile:+") and result["fa"].endswith("@MPESA")
    assert resolve(fa=BANK)[1] == "succ.fa.not_found"

    unlinked = send(client, party, "unlink", message("unlink", item(id="ext:AMINA@nid")))
    assert codes(answered(unlinked, "unlink", jwks), "unlink") == [("succ", None)]
    assert resolve(id="ext:AMINA@nid")[1] == "succ.id.inactive"
    assert resolve(id="ext:NOBODY@nid")[1] == "succ.id.not_found"

    query = {"reference_id": "q1", "txn_type": "link", "attribute_type": "transaction_id", "attribute_value": "t1"}
    status_answer = answered(ask_status(client, party, query, "s1"), "txn-status", jwks)
    found = status_answer["message"]["txnstatus_response"]
    assert found["txn_type"] == "on-link"
    assert [(i["reference_id"], i["status"]) for i in found["txn_status"]["link_response"]] == [("r1", "succ")]
    assert status_answer["header"]["meta"]["transactions"][0]["state"] == "done"


@pytest.mark.country_independent
def test_a_batch_is_answered_item_by_item_in_order(client: TestClient, register, jwks) -> None:
    party = register()
    items = [item(reference_id=f"r{n}", id=f"ext:P-{n}@nid", fa=f"account:{1000000 + n}@BANK01") for n in range(3)]
    items.append(item(reference_id="r9", id="ext:P-9@nid", fa="account:12@BANK01"))  # too short an account number
    document = answered(send(client, party, "link", message("link", *items)), "link", jwks)
    assert [(i["reference_id"], i["status"]) for i in results(document, "link")] == [
        ("r0", "succ"),
        ("r1", "succ"),
        ("r2", "succ"),
        ("r9", "rjct"),
    ]
    assert (document["header"]["total_count"], document["header"]["completed_count"]) == (4, 4)


# ---------------------------------------------------------------- every operation, asynchronous with callbacks


@pytest.mark.country_independent
def test_every_operation_is_acknowledged_then_called_back_signed(
    client: TestClient, register, jwks, callbacks: Receiver, runtime: Runtime, engine: Engine, settings: Settings
) -> None:
    party = register()
    sent = [
        ("link", message("link", item(id="ext:AMINA@nid", fa=IBAN), transaction_id="t-link")),
        ("update", message("update", item(id="ext:AMINA@nid", fa=BANK), transaction_id="t-update")),
        ("resolve", message("resolve", item(id="ext:AMINA@nid"), transaction_id="t-resolve")),
        ("unlink", message("unlink", item(id="ext:AMINA@nid"), transaction_id="t-unlink")),
    ]
    query = {
        "reference_id": "q1",
        "txn_type": "update",
        "attribute_type": "reference_id_list",
        "attribute_value": ["r1"],
    }
    sent.append(("txn-status", {"transaction_id": "t-status", "txnstatus_request": query}))
    acks = [acked(send(client, party, operation, body, mode="async"), jwks) for operation, body in sent]
    assert len({a["correlation_id"] for a in acks}) == 5
    assert callbacks.received == []  # nothing before the worker runs
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(AccountLink)) == 0

    assert deliver(runtime, engine, settings) == g2p.Delivered(delivered=5)
    paths = [c.path for c in callbacks.received]
    assert paths == [
        "/mapper/on-link",
        "/mapper/on-update",
        "/mapper/on-resolve",
        "/mapper/on-unlink",
        "/mapper/txn/on-status",
    ]
    for (operation, _body), ack, callback in zip(sent, acks, callbacks.received, strict=True):
        document = verify_ours(callback.body, callback.headers, jwks)
        assert_answer(document, operation)
        assert document["header"]["receiver_id"] == "bank-a"
        assert document["message"]["correlation_id"] == ack["correlation_id"]
    documents = [c.document for c in callbacks.received]
    assert (
        codes(documents[0], "link")
        == codes(documents[1], "update")
        == codes(documents[3], "unlink")
        == [("succ", None)]
    )
    assert codes(documents[2], "resolve") == [("succ", "succ.id.active")]
    status = documents[4]["message"]["txnstatus_response"]["txn_status"]
    assert [(i["reference_id"], i["status"], i["fa"]) for i in status["update_response"]] == [("r1", "succ", BANK)]
    assert deliver(runtime, engine, settings) == g2p.Delivered()  # each delivered once


@pytest.mark.country_independent
def test_the_body_form_signs_callbacks_in_the_body(
    client: TestClient, register, jwks, callbacks: Receiver, runtime: Runtime
) -> None:
    party = register("body", by_url=True)  # and its keys are fetched from its JWKS URL
    acked(send(client, party, "link", message("link", item(id="ext:AMINA@nid", fa=IBAN)), mode="async"), jwks)
    [job] = [job for job in installed_jobs() if job.name == payment_jobs.G2P_CALLBACKS]
    assert job.schedule == "* * * * * */5"
    job.run(runtime)  # as the worker runs it
    [callback] = callbacks.received
    assert "signature" not in {k.lower() for k in callback.headers}
    document = verify_ours(callback.body, callback.headers, jwks)
    assert document["signature"].startswith('Signature: namespace="g2p", keyId="nation-stack-mapper|')
    assert_answer(document, "link")


@pytest.mark.country_independent
def test_a_callback_is_retried_with_back_off_then_failed_and_txn_status_says_so(
    client: TestClient, register, jwks, callbacks: Receiver, runtime: Runtime, engine: Engine, settings: Settings
) -> None:
    party = register()
    first = acked(send(client, party, "link", message("link", item(id="ext:A@nid", fa=IBAN)), mode="async"), jwks)
    callbacks.answers.extend([503])
    assert deliver(runtime, engine, settings) == g2p.Delivered(retrying=1)
    with make_session_factory(engine)() as session:
        row = session.scalars(select(G2pMessage)).one()
        waits = row.next_attempt_at.replace(tzinfo=UTC) - datetime.now(UTC)
        assert (row.attempts, row.last_error) == (1, "HTTP 503") and timedelta(seconds=3) < waits < timedelta(
            seconds=20
        )
    assert deliver(runtime, engine, settings) == g2p.Delivered()  # not due yet
    _make_due(engine)
    assert deliver(runtime, engine, settings) == g2p.Delivered(delivered=1)
    failed_try, second_try = callbacks.received
    assert failed_try.document == second_try.document  # performed once, the same answer sent again
    assert codes(second_try.document, "link") == [("succ", None)]

    callbacks.received.clear()
    acked(
        send(client, party, "resolve", message("resolve", item(id="ext:A@nid"), transaction_id="t2"), mode="async"),
        jwks,
    )
    callbacks.answers.extend([500, 500])
    assert deliver(runtime, engine, settings, g2p_callback_attempts=2).retrying == 1
    _make_due(engine)
    assert deliver(runtime, engine, settings, g2p_callback_attempts=2).failed == 1
    query = {"reference_id": "q", "txn_type": "resolve", "attribute_type": "transaction_id", "attribute_value": "t2"}
    status = answered(ask_status(client, party, query, "s"), "txn-status", jwks)
    [transaction] = status["header"]["meta"]["transactions"]
    assert (transaction["state"], transaction["callback_attempts"], transaction["callback_error"]) == (
        "failed",
        2,
        "HTTP 500",
    )
    assert codes({"message": status["message"]["txnstatus_response"]["txn_status"]}, "resolve") == [
        ("succ", "succ.id.active")
    ]
    assert transaction["correlation_id"] != first["correlation_id"]  # the resolve's, not the link's


def _make_due(engine: Engine) -> None:
    with make_session_factory(engine).begin() as session:
        session.execute(update(G2pMessage).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))


@pytest.mark.country_independent
def test_a_pending_transaction_is_pdng_until_the_worker_answers(client: TestClient, register, jwks) -> None:
    party = register()
    acked(send(client, party, "update", message("update", item(id="ext:A@nid", fa=IBAN)), mode="async"), jwks)
    query = {"reference_id": "q", "txn_type": "update", "attribute_type": "transaction_id", "attribute_value": "t1"}
    status = answered(ask_status(client, party, query, "s"), "txn-status", jwks)
    assert codes({"message": status["message"]["txnstatus_response"]["txn_status"]}, "update") == [("pdng", None)]
    assert status["header"]["meta"]["transactions"][0]["state"] == G2pMessageState.PENDING
    unknown = {**query, "attribute_value": "nope"}
    missing = answered(ask_status(client, party, unknown, "s2"), "txn-status", jwks)
    assert missing["header"]["status"] == "rjct" and "message" not in missing


# ---------------------------------------------------------------- idempotency on message_id


@pytest.mark.country_independent
def test_a_message_sent_again_gets_the_same_answer_and_changes_nothing(
    client: TestClient, register, jwks, session: Session
) -> None:
    party = register()
    envelope = party.sender.envelope("link", message("link", item(id="ext:A@nid", fa=IBAN)))
    first = answered(send(client, party, "link", {}, envelope=envelope), "link", jwks)
    again = answered(send(client, party, "link", {}, envelope=envelope), "link", jwks)
    assert again == first
    linked = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("payments.account.%"))).all()
    assert linked == ["payments.account.linked"]

    other = dict(envelope, message=message("link", item(id="ext:B@nid", fa=IBAN)))
    refused = answered(send(client, party, "link", {}, envelope=other), "link", jwks, status=409)
    assert (refused["header"]["status"], refused["header"]["status_reason_code"]) == (
        "rjct",
        "rjct.message_id.duplicate",
    )
    assert session.scalar(select(func.count()).select_from(AccountLink)) == 1


@pytest.mark.country_independent
def test_an_async_message_sent_again_is_acknowledged_alike_and_called_back_once(
    client: TestClient, register, jwks, callbacks: Receiver, runtime: Runtime, engine: Engine, settings: Settings
) -> None:
    party = register()
    envelope = party.sender.envelope("link", message("link", item(id="ext:A@nid", fa=IBAN)))
    first = acked(send(client, party, "link", {}, envelope=envelope, mode="async"), jwks)
    again = acked(send(client, party, "link", {}, envelope=envelope, mode="async"), jwks)
    assert again["correlation_id"] == first["correlation_id"]
    other = dict(envelope, message=message("link", item(id="ext:B@nid", fa=IBAN)))
    refused = acked(send(client, party, "link", {}, envelope=other, mode="async"), jwks, status=409, ack="ERR")
    assert refused["error"]["code"] == "err.request.bad" and "rjct.message_id.duplicate" in refused["error"]["message"]
    assert deliver(runtime, engine, settings).delivered == 1
    assert len(callbacks.received) == 1


# ---------------------------------------------------------------- the specification's status reason codes


@pytest.mark.country_independent
@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"version": "2.0.0"}, "rjct.version.invalid"),
        ({"message_ts": "yesterday"}, "rjct.message_ts.invalid"),
        ({"message_ts": "2020-01-01T00:00:00+00:00"}, "rjct.message_ts.invalid"),
        ({"action": "fly"}, "rjct.action.invalid"),
        ({"action": "search"}, "rjct.action.not_supported"),
        ({"total_count": 2}, "rjct.total_count.invalid"),
        ({"total_count": 1001}, "rjct.total_count.limit_exceeded"),
    ],
)
def test_each_header_reason_code(
    client: TestClient, register, jwks, session: Session, header: dict[str, Any], code: str
) -> None:
    party = register()
    sent = send(client, party, "link", message("link", item(id="ext:A@nid", fa=IBAN)), check=False, **header)
    document = answered(sent, "link", jwks)
    assert (document["header"]["status"], document["header"]["status_reason_code"]) == ("rjct", code)
    assert "message" not in document
    assert session.scalar(select(func.count()).select_from(AccountLink)) == 0


@pytest.mark.country_independent
def test_the_sync_paths_take_the_action_the_specification_gives_them(client: TestClient, register, jwks) -> None:
    party = register()  # the spec's /mapper/sync/* request schemas all say `link`
    sent = send(client, party, "resolve", message("resolve", item(id="ext:A@nid")), action="link", check=False)
    document = answered(sent, "resolve", jwks)
    assert document["header"]["status"] == "succ"


def test_each_link_reason_code(client: TestClient, register, jwks, country) -> None:
    party = register()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert send(client, party, "link", message("link", item(id="ext:TAKEN@nid", fa=BANK))).status_code == 200
    cases = [
        (item(reference_id="has space", id="ext:A1@nid", fa=IBAN), "rjct.reference_id.invalid"),
        (item(reference_id="r2", id="ext:A2@nid", fa=IBAN), None),
        (item(reference_id="r2", id="ext:A3@nid", fa=IBAN), "rjct.reference_id.duplicate"),
        (item(reference_id="r3", timestamp=future, id="ext:A4@nid", fa=IBAN), "rjct.timestamp.invalid"),
        (item(reference_id="r4", timestamp="soon", id="ext:A4@nid", fa=IBAN), "rjct.timestamp.invalid"),
        (item(reference_id="r5", id="A5", fa=IBAN), "rjct.id.invalid"),
        (item(reference_id="r6", id="vid:1234567890@nid", fa=IBAN), "rjct.id.invalid"),
        (item(reference_id="r7", id="ext:A7@elsewhere", fa=IBAN), "rjct.id.invalid"),
        (item(reference_id="r8", id="ext:TAKEN@nid", fa=IBAN), "rjct.id.invalid"),  # linked to another: update it
        (item(reference_id="r9", id="ext:A9@nid", fa="account:DE89370400440532013001@DEUTDEFF"), "rjct.fa.invalid"),
        (item(reference_id="r10", id="ext:A10@nid", fa="voucher:123@food"), "rjct.fa.invalid"),
        (item(reference_id="r11", id="ext:A11@nid", fa=IBAN, name="   "), "rjct.name.invalid"),
        (item(reference_id="r12", id="ext:A12@nid", fa=IBAN, phone_number="12"), "rjct.mobile_number.invalid"),
    ]
    sent = send(client, party, "link", message("link", *(c[0] for c in cases)), check=False)  # "soon" is no date-time
    document = answered(sent, "link", jwks)
    expected = [("succ", None) if code is None else ("rjct", code) for _item, code in cases]
    assert codes(document, "link") == expected
    assert all(i.get("status_reason_message") for i in results(document, "link") if i["status"] == "rjct")


@pytest.mark.country_independent
def test_each_update_unlink_and_resolve_reason_code(client: TestClient, register, jwks) -> None:
    party = register()  # not granted resolve scope `details`
    send(client, party, "link", message("link", item(id="ext:A@nid", fa=IBAN)))
    updated = send(
        client,
        party,
        "update",
        message(
            "update",
            item(reference_id="u1", id="ext:A@nid", fa=BANK, name=" "),
            item(reference_id="u1", id="ext:A@nid", fa=BANK),
            item(reference_id="u2", id="ext:NOT-LINKED@nid", fa=BANK),
        ),
    )
    document = answered(updated, "update", jwks)
    # The spec's UpdateStatusReasonCode has no code for an id that is not linked: rjct, with the message only.
    assert codes(document, "update") == [
        ("rjct", "rjct.beneficiary_name.invalid"),
        ("rjct", "rjct.reference_id.duplicate"),
        ("rjct", None),
    ]
    assert "link it first" in results(document, "update")[2]["status_reason_message"]
    unlinked = send(
        client,
        party,
        "unlink",
        message("unlink", item(reference_id="", id="ext:A@nid"), item(reference_id="x", id="ext:A@nid", fa=BANK)),
    )
    assert codes(answered(unlinked, "unlink", jwks), "unlink") == [
        ("rjct", "rjct.reference_id.invalid"),
        ("rjct", None),
    ]
    resolved = send(
        client,
        party,
        "resolve",
        message(
            "resolve",
            item(reference_id="v1", id="ext:A@nid", scope="details"),
            item(reference_id="v2"),
            item(reference_id="v3", fa="account:12@BANK01"),
            item(reference_id="v4", id="ext:A@nid", timestamp="2099-01-01T00:00:00Z"),
        ),
    )
    assert codes(answered(resolved, "resolve", jwks), "resolve") == [
        ("rjct", "rjct.resolve_type.not_supported"),
        ("rjct", "rjct.id.invalid"),
        ("rjct", "rjct.fa.invalid"),
        ("rjct", "rjct.timestamp.invalid"),
    ]


@pytest.mark.country_independent
@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (OperationalError("INSERT", {}, Exception("database is locked")), "rjct.unknown.retry"),
        (RuntimeError("bug"), "rjct.other.error"),
    ],
)
def test_an_item_the_database_or_a_bug_fails(client: TestClient, register, jwks, monkeypatch, failure, code) -> None:
    party = register()

    def failing(**_arguments: Any) -> None:
        raise failure

    monkeypatch.setattr(service, "link_account", failing)
    document = answered(send(client, party, "link", message("link", item(id="ext:A@nid", fa=IBAN))), "link", jwks)
    assert codes(document, "link") == [("rjct", code)]


# ---------------------------------------------------------------- refused messages: ERR acknowledgements


@pytest.mark.country_independent
def test_refused_messages_are_err_acknowledgements(
    client: TestClient, register, jwks, api_headers, staff_headers
) -> None:
    party = register()
    body = message("resolve", item(id="ext:A@nid"))

    def refused(response, status: int, code: str) -> None:
        ack = acked(response, jwks, status=status, ack="ERR")
        assert ack["error"]["code"] == code, ack

    envelope = party.sender.envelope("resolve", body)
    raw = json.dumps(envelope).encode()
    as_json = {**party.headers, "Content-Type": "application/json"}
    unsigned = client.post("/mapper/sync/resolve", content=raw, headers=as_json)
    refused(unsigned, 401, "err.signature.missing")
    tampered = {**as_json, "Signature": party.sender.jws_header(raw.replace(b"A@nid", b"B@nid"))}
    refused(client.post("/mapper/sync/resolve", content=raw, headers=tampered), 401, "err.signature.invalid")
    refused(send(client, party, "resolve", body, sender_id="bank-b"), 403, "err.sender_id.invalid")
    refused(send(client, party, "resolve", body, headers=api_headers(READ_SCOPE)), 403, "err.sender_id.invalid")
    refused(send(client, party, "resolve", body, receiver_id="someone-else"), 403, "err.receiver_id.invalid")
    refused(send(client, party, "resolve", body, is_msg_encrypted=True), 400, "err.encryption.invalid")
    elsewhere = send(client, party, "resolve", body, mode="async", sender_uri="http://198.51.100.7/hook")
    refused(elsewhere, 403, "err.sender_uri.invalid")
    shapeless = client.post("/mapper/sync/resolve", json={"header": {"message_id": 1}}, headers=party.headers)
    refused(shapeless, 400, "err.request.bad")
    refused(client.post("/mapper/resolve", content=b"{not json", headers=as_json), 400, "err.request.bad")

    assert client.post("/mapper/sync/resolve", json=envelope).status_code == 401  # no credentials at all
    assert client.post("/mapper/resolve", json=envelope, headers=api_headers(LINK_SCOPE)).status_code == 403
    staff = client.post("/mapper/sync/link", json=envelope, headers=staff_headers("core.administrator"))
    assert staff.status_code == 403  # a partner system's route


# ---------------------------------------------------------------- national IDs, and the CLI


@pytest.mark.selection  # a national ID needs the identity module (the SectorTokens port)
def test_a_national_id_is_linked_by_its_token_and_never_stored(
    client: TestClient, register, jwks, ports: Ports, api_headers, session: Session
) -> None:
    party = register()
    if ports.get(SectorTokens) is None:
        document = answered(
            send(client, party, "link", message("link", item(id="nid:1234567890@nid", fa=IBAN))), "link", jwks
        )
        assert codes(document, "link") == [("rjct", "rjct.id.invalid")]
        assert "identity module" in results(document, "link")[0]["status_reason_message"]
        return
    national_id = enrol_person(client, api_headers)
    document = answered(
        send(client, party, "link", message("link", item(id=f"nid:{national_id}@nid", fa=IBAN))), "link", jwks
    )
    assert codes(document, "link") == [("succ", None)]
    resolved = answered(
        send(client, party, "resolve", message("resolve", item(id=f"NID:{national_id}@NID"))), "resolve", jwks
    )
    assert codes(resolved, "resolve") == [("succ", "succ.id.active")]
    assert session.scalars(select(AccountLink.beneficiary_key)).one().startswith("token:")
    stored = json.dumps([[m.request, m.response] for m in session.scalars(select(G2pMessage))])
    assert national_id not in stored


def issue_vid(
    engine: Engine,
    national_id: str,
    *,
    kind: str = "perpetual",
    revoked: bool = False,
    expires_at: datetime | None = None,
    uses_left: int | None = None,
) -> str:
    """A VID of the person, written into identity's table as identity keeps it: payments' tests may not import
    identity, and a resident's VIDs are otherwise made only in a session opened with an OTP to their phone."""
    body = str(secrets.randbelow(8) + 2) + "".join(str(secrets.randbelow(10)) for _ in range(14))
    vid = body + verhoeff.calc_check_digit(body)
    with make_session_factory(engine).begin() as session:
        values = {"vid": vid, "national_id": national_id, "kind": kind, "revoked": revoked}
        session.execute(
            insert(Base.metadata.tables["identity_vid"]).values(expires_at=expires_at, uses_left=uses_left, **values)
        )
    return vid


@pytest.mark.selection  # a VID needs the identity module (the SectorTokens port)
def test_a_vid_finds_the_link_its_persons_national_id_made_and_is_never_stored(
    client: TestClient,
    register,
    jwks,
    ports: Ports,
    api_headers,
    engine: Engine,
    session: Session,
    callbacks: Receiver,
    runtime: Runtime,
    settings: Settings,
) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("needs the identity module")
    party = register(details=True)
    national_id = enrol_person(client, api_headers)
    vid = issue_vid(engine, national_id)
    one_use = issue_vid(engine, national_id, kind="temporary", expires_at=utcnow() + timedelta(hours=1), uses_left=1)

    def sync(operation: str, **fields: Any) -> list[tuple[str, str | None]]:
        return codes(
            answered(send(client, party, operation, message(operation, item(**fields))), operation, jwks), operation
        )

    assert sync("link", id=f"vid:{vid}@nid", fa=IBAN) == [("succ", None)]
    assert sync("resolve", id=f"nid:{national_id}@nid") == [("succ", "succ.id.active")]
    assert sync("resolve", id=f"VID:{one_use}@NID", fa=IBAN) == [("succ", "succ.fa.active")]  # another VID of theirs
    assert sync("update", id=f"nid:{national_id}@nid", fa=BANK) == [("succ", None)]
    assert sync("resolve", id=f"vid:{vid}@nid", fa=BANK) == [("succ", "succ.fa.active")]
    refused = answered(
        send(client, party, "resolve", message("resolve", item(id=f"vid:{one_use}@nid"))), "resolve", jwks
    )
    assert results(refused, "resolve")[0]["status_reason_message"] == "the VID has no uses left"  # it allowed one

    unlinking = message("unlink", item(id=f"vid:{vid}@nid"), transaction_id="t-unlink")
    acked(send(client, party, "unlink", unlinking, mode="async"), jwks)
    acked(send(client, party, "resolve", message("resolve", item(id=f"vid:{vid}@nid")), mode="async"), jwks)
    assert deliver(runtime, engine, settings) == g2p.Delivered(delivered=2)
    unlinked, resolved = (callback.document for callback in callbacks.received)
    assert codes(unlinked, "unlink") == [("succ", None)]
    assert codes(resolved, "resolve") == [("succ", "succ.id.inactive")]

    refused_whole = send(client, party, "resolve", message("resolve", item(id=f"vid:{vid}@nid")), version="2.0.0")
    assert answered(refused_whole, "resolve", jwks)["header"]["status_reason_code"] == "rjct.version.invalid"

    stored = json.dumps([[m.request, m.response] for m in session.scalars(select(G2pMessage))])
    audited = json.dumps([[e.subject, e.detail] for e in session.scalars(select(AuditEvent))])
    assert vid not in stored + audited and one_use not in stored + audited and national_id not in stored
    uses = session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.vid.used")).all()
    assert {(e.actor, e.subject, e.detail["sector"]) for e in uses} == {
        ("partner:Partner bank-a", f"person:{national_id}", "payments")
    }
    assert len(uses) == 5  # each message naming a usable VID, when received; neither refusal used one


@pytest.mark.selection
def test_an_unknown_revoked_expired_or_used_up_vid_is_refused(
    client: TestClient, register, jwks, ports: Ports, api_headers, engine: Engine
) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("needs the identity module")
    party = register()
    national_id = enrol_person(client, api_headers)
    earlier = utcnow() - timedelta(seconds=1)
    cases = [
        ("r1", "1234567890123456", "no active person holds this VID"),  # not even a VID: a wrong check digit
        ("r2", issue_vid(engine, "9" * 10), "no active person holds this VID"),  # nobody holds it
        ("r3", issue_vid(engine, national_id, revoked=True), "the VID has been revoked"),
        (
            "r4",
            issue_vid(engine, national_id, kind="temporary", expires_at=earlier, uses_left=1),
            "the VID has expired",
        ),
        ("r5", issue_vid(engine, national_id, kind="temporary", uses_left=0), "the VID has no uses left"),
    ]
    items = [item(reference_id=reference, id=f"vid:{vid}@nid", fa=IBAN) for reference, vid, _text in cases]
    document = answered(send(client, party, "link", message("link", *items)), "link", jwks)
    assert [(i["status"], i["status_reason_code"], i["status_reason_message"]) for i in results(document, "link")] == [
        ("rjct", "rjct.id.invalid", text) for _reference, _vid, text in cases
    ]


@pytest.mark.selection
def test_an_unknown_or_malformed_national_id_is_refused_without_echoing_it(
    client: TestClient, register, jwks, ports: Ports, session: Session
) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("needs the identity module")
    party = register()
    unknown, malformed = "9" * 10, "12AB"
    items = [
        item(reference_id="r1", id=f"nid:{unknown}@nid", fa=IBAN),
        item(reference_id="r2", id=f"nid:{malformed}@nid", fa=IBAN),
    ]
    document = answered(send(client, party, "link", message("link", *items)), "link", jwks)
    assert [(i["status_reason_code"], i["status_reason_message"]) for i in results(document, "link")] == [
        ("rjct.id.invalid", "no active person holds this national ID"),
        ("rjct.id.invalid", "a national ID is digits only, at most 20"),
    ]
    stored = json.dumps([[m.request, m.response] for m in session.scalars(select(G2pMessage))])
    assert unknown not in stored and malformed not in stored


@pytest.mark.selection
def test_without_identity_a_vid_is_refused_clearly(client: TestClient, register, jwks, ports: Ports) -> None:
    if ports.get(SectorTokens) is not None:
        pytest.skip("identity is installed")
    party = register()
    document = answered(
        send(client, party, "resolve", message("resolve", item(id="vid:1234567890123452@nid"))), "resolve", jwks
    )
    assert codes(document, "resolve") == [("rjct", "rjct.id.invalid")]
    assert results(document, "resolve")[0]["status_reason_message"] == (
        "VIDs need the identity module, which this deployment does not have"
    )


@pytest.mark.usefixtures("cli_on_test_database")
@pytest.mark.country_independent
def test_the_cli_registers_a_sender(engine: Engine, tmp_path) -> None:
    with make_session_factory(engine).begin() as writing:
        partner = issue_partner_key(session=writing, name="Bank C", scopes=[READ_SCOPE]).partner.id
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(Sender("bank-c").jwks()), encoding="utf-8")
    runner = CliRunner()
    arguments = ["payments", "g2p-sender", "--partner", str(partner), "--sender-id", "bank-c", "--jwks-file", str(keys)]
    result = runner.invoke(stack_cli, [*arguments, "--callback-uri", "https://bank-c.example/g2p", "--as", "amina"])
    assert result.exit_code == 0 and "bank-c registered" in result.output, result.output
    listed = runner.invoke(stack_cli, ["payments", "g2p-senders"])
    assert listed.exit_code == 0 and "bank-c" in listed.output and '"kty": "EC"' in listed.output
    no_keys = runner.invoke(stack_cli, ["payments", "g2p-sender", "--partner", str(partner), "--sender-id", "bank-c"])
    assert no_keys.exit_code == 1 and "jwks" in no_keys.output + no_keys.stderr
