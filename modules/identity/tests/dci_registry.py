"""A civil registry for the tests: its keys, its HTTP server on 127.0.0.1 (our subscribe, unsubscribe), its callbacks.

Written from the published specification (dci_spec/): the registry checks every message we send
against the specification's schemas and our signature against our published JWKS with its own code
(cryptography), not with the adapter's, so both sides are tested. Its callbacks and notifications to
us are built and signed here and posted by the test through the app's client.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.jwk import KeySet, OKPKey

from ....tests.body_signatures import signing_string
from ....tests.http_server import LOCALHOST, JsonHandler, http_server

SPEC = Path(__file__).parent / "dci_spec" / "registry_core_api_v1.0.0.excerpt.yaml"
KID = "crvs-ed-1"


@cache
def _document() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def request_schema(path: str) -> dict[str, Any]:
    """The requestBody schema of a path, its $refs resolved within the excerpt."""
    schema = _document()["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {"components": _document()["components"], **schema}


def assert_request(envelope: dict[str, Any], path: str) -> None:
    schema = request_schema(path)
    if path == "/registry/unsubscribe":
        # UnSubscribeRequest requires `timestamp` and `sunscription_codes` but names its properties
        # `timesstamp` and `subscription_codes`: we send `timestamp` and `subscription_codes`, and check
        # them against the schema with its required list spelt as its properties (docs/standards.md).
        schema = json.loads(json.dumps(schema).replace('"sunscription_codes"', '"subscription_codes"'))
    errors = [f"{e.instance_path}: {e.message}" for e in jsonschema_rs.Draft7Validator(schema).iter_errors(envelope)]
    assert not errors, f"not valid by the published {path}:\n" + "\n".join(errors[:10])


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def verify_ours(document: dict[str, Any], our_jwks: dict[str, Any], sender_id: str) -> None:
    """Our envelope signature (ES256 over the signing string), checked with our published key; raises if bad."""
    fields = dict(re.findall(r'([A-Za-z]+)="([^"]*)"', document["signature"]))
    signer, kid, algorithm = fields["keyId"].split("|")
    assert signer == sender_id and algorithm == fields["algorithm"] == "es256"
    public = KeySet.import_key_set(our_jwks).get_by_kid(kid).public_key
    raw = base64.b64decode(fields["signature"])
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    content = signing_string(fields["created"], fields["expires"], document["header"], document["message"])
    public.verify(der, content, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature


@dataclass
class Registry:
    """The registry's side: what it received, how it answers, its key and the messages it sends us."""

    name: str
    url: str = ""
    our_jwks: dict[str, Any] = field(default_factory=dict)
    our_sender_id: str = "national-id-registry"
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    received: list[dict[str, Any]] = field(default_factory=list)
    answer_status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**OKPKey.import_key(self.key).as_dict(private=False), "kid": KID}]}

    def signed(self, envelope: dict[str, Any], *, tamper: bool = False) -> bytes:
        """The envelope with its `signature` (Ed25519, as the specification's example); `tamper`: altered after."""
        created = int(time.time())
        expires = created + 600
        content = signing_string(str(created), str(expires), envelope["header"], envelope.get("message"))
        value = base64.b64encode(self.key.sign(content)).decode()
        signature = (
            f'Signature: namespace="spdci", kidId="{self.name}|{KID}|ed25519", algorithm="ed25519", '
            f'created="{created}", expires="{expires}", headers="(created) (expires) digest", signature="{value}"'
        )
        body = {"signature": signature, **envelope}
        if tamper:
            body = json.loads(json.dumps(body).replace('"2026-11-30"', '"2026-11-29"'))
        return json.dumps(body).encode()

    def header(self, action: str, count: int) -> dict[str, Any]:
        return {
            "version": "1.0.0",
            "message_id": uuid.uuid4().hex,
            "message_ts": now_text(),
            "action": action,
            "sender_id": self.name,
            "receiver_id": self.our_sender_id,
            "total_count": count,
        }

    def on_subscribe(self, request: dict[str, Any], *, refuse: str | None = None) -> dict[str, Any]:
        """The answer to a subscribe request: a code per event type, or each refused with `refuse`'s reason code."""
        items = []
        for asked in request["message"]["subscribe_request"]:
            item: dict[str, Any] = {"reference_id": asked["reference_id"], "timestamp": now_text()}
            if refuse:
                item |= {"status": "rjct", "status_reason_code": refuse, "status_reason_message": "not for you"}
            else:
                code = f"SUB-{asked['subscribe_criteria']['reg_event_type']}-{uuid.uuid4().hex[:8]}"
                info = {
                    "code": code,
                    "subscription_code": code,  # SubscriptionInfo requires this name, its properties say `code`
                    "status": "subscribe",
                    "timestamp": now_text(),
                    "reg_event_type": asked["subscribe_criteria"]["reg_event_type"],
                    "subscribe_criteria": asked["subscribe_criteria"],
                }
                item |= {"status": "succ", "subscriptions": [info]}
            items.append(item)
        transaction_id = request["message"]["transaction_id"]
        message = {"transaction_id": transaction_id, "correlation_id": transaction_id, "subscribe_response": items}
        return {"header": self.header("on-subscribe", len(items)), "message": message}

    def on_unsubscribe(self, request: dict[str, Any]) -> dict[str, Any]:
        codes = request["message"]["subscription_codes"]
        transaction_id = request["message"]["transaction_id"]
        message = {
            "transaction_id": transaction_id,
            "correlation_id": transaction_id,
            "timestamp": now_text(),
            "status": "succ",
            "subscription_status": [{"code": code, "status": "unsubscribe"} for code in codes],
        }
        return {"header": self.header("on-unsubscribe", len(codes)), "message": message}


@contextmanager
def registry_server(name: str) -> Iterator[Registry]:
    """The registry's HTTP server on 127.0.0.1: POST /registry/subscribe and /registry/unsubscribe, answered ACK."""
    with http_server(_Handler) as server:
        made = Registry(name=name, url=f"http://{LOCALHOST}:{server.server_port}")
        server.registry = made  # type: ignore[attr-defined]
        yield made


class _Handler(JsonHandler):
    def do_POST(self) -> None:
        made: Registry = self.server.registry  # type: ignore[attr-defined]
        document = json.loads(self.read_body())
        # Checked here, in the server, so a message that would not pass a real registry fails the test.
        assert_request(document, self.path)
        verify_ours(document, made.our_jwks, made.our_sender_id)
        with made.lock:
            made.received.append(document)
        status = made.answer_status
        ack = {
            "message": {
                "ack_status": "ACK" if status < 300 else "ERR",
                "timestamp": now_text(),
                "correlation_id": document["message"]["transaction_id"],
            }
        }
        if status >= 300:
            ack["message"]["error"] = {"code": "err.service.unavailable", "message": "down for maintenance"}
        self.send_json(status, ack)
