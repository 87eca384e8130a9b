"""A G2P Connect sender for the tests: its keys and signatures, its callback receiver on 127.0.0.1, the spec's schemas.

Written from the published specification (tests/g2p_connect/): the receiver checks our signatures
with its own code (joserfc, cryptography), not with the adapter's, so both sides are tested.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
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
from joserfc import jws
from joserfc.jwk import ECKey, KeySet, OKPKey

from ....tests.body_signatures import signing_string
from ....tests.http_server import LOCALHOST, JsonHandler, http_server

SPEC = Path(__file__).parent / "g2p_connect"


# ---------------------------------------------------------------- the published schemas


@cache
def _documents() -> dict[str, Any]:
    mapper = yaml.safe_load((SPEC / "mapper_core_api_v1.0.0.yaml").read_text(encoding="utf-8"))
    authz = yaml.safe_load((SPEC / "authz_core_api_v1.0.0.yaml").read_text(encoding="utf-8"))
    return {"mapper": mapper, "authz": authz}


@cache
def _validator(document: str, pointer: str) -> Any:
    root = dict(_documents()[document])
    root["$ref"] = pointer  # Draft 7: a $ref's siblings are not keywords, so the document is only a container
    return jsonschema_rs.Draft7Validator(root, validate_formats=True)


def _body(path: str) -> str:
    return "#/paths/" + path.replace("/", "~1") + "/post/requestBody/content/application~1json/schema"


def assert_valid(document: Any, pointer: str, spec: str = "mapper") -> None:
    errors = [f"{e.instance_path}: {e.message}" for e in _validator(spec, pointer).iter_errors(document)]
    assert not errors, f"not valid by the published {pointer}:\n" + "\n".join(errors[:10])


def assert_request(envelope: dict[str, Any], operation: str) -> None:
    """A request as the specification's schema says (a sync request by the async one: the sync ones say `link`)."""
    path = "/mapper/txn/status" if operation == "txn-status" else f"/mapper/{operation}"
    assert_valid(envelope, _body(path))


def assert_answer(envelope: dict[str, Any], operation: str) -> None:
    """An answer (sync) or callback (async) as the specification's on-* callback schema says."""
    path = "/mapper/txn/on-status" if operation == "txn-status" else f"/mapper/on-{operation}"
    assert_valid(envelope, _body(path))


def assert_ack(body: dict[str, Any]) -> None:
    assert_valid(body, "#/components/responses/Response/content/application~1json/schema")


def assert_token(body: dict[str, Any]) -> None:
    assert_valid(body, "#/components/schemas/OAuth2ClientTokenResponse", spec="authz")


# ---------------------------------------------------------------- the sender: keys and signatures


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Sender:
    sender_id: str
    es256: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    ed25519: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def ed_kid(self) -> str:
        return "ed-1"

    def jwks(self) -> dict[str, Any]:
        es = {**self.es256.as_dict(private=False), "kid": "es-1", "alg": "ES256"}
        ed = {**OKPKey.import_key(self.ed25519).as_dict(private=False), "kid": self.ed_kid}
        return {"keys": [es, ed]}

    def envelope(self, operation: str, message: dict[str, Any], **header: Any) -> dict[str, Any]:
        count = (
            len(next(iter(v for k, v in message.items() if k.endswith("_request")), []))
            if operation != "txn-status"
            else 1
        )
        head = {
            "version": "1.0.0",
            "message_id": uuid.uuid4().hex,
            "message_ts": now_text(),
            "action": operation,
            "sender_id": self.sender_id,
            "total_count": count,
        }
        head.update(header)
        return {"header": head, "message": message}

    def jws_header(self, body: bytes) -> str:
        """A JWS over the exact body, payload detached (RFC 7515 appendix F), with the ES256 key."""
        compact = jws.serialize_compact({"alg": "ES256", "kid": "es-1"}, body, self.es256, algorithms=["ES256"])
        protected, _payload, signature = compact.split(".")
        return f"{protected}..{signature}"

    def body_signature(self, envelope: dict[str, Any]) -> str:
        """The specification's signature string, Ed25519 as in its example, over header and message."""
        created = int(time.time())
        expires = created + 600
        content = signing_string(str(created), str(expires), envelope["header"], envelope.get("message"))
        signature = base64.b64encode(self.ed25519.sign(content)).decode()
        return (
            f'Signature: namespace="g2p", kidId="{self.sender_id}|{self.ed_kid}|ed25519", algorithm="ed25519", '
            f'created="{created}", expires="{expires}", headers="(created) (expires) digest", signature="{signature}"'
        )


def verify_ours(body: bytes, headers: dict[str, str], keys: dict[str, Any]) -> dict[str, Any]:
    """Check an answer or callback of the stack against its published JWKS, in whichever form it was signed."""
    document = json.loads(body)
    key_set = KeySet.import_key_set(keys)
    signature = headers.get("signature") or headers.get("Signature")
    if signature is not None:
        protected, empty, signed = signature.split(".")
        assert empty == "", "the payload is detached"
        payload = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
        header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
        jws.deserialize_compact(
            f"{protected}.{payload}.{signed}", key_set.get_by_kid(header["kid"]), algorithms=["ES256"]
        )
        return document
    fields = dict(re.findall(r'([A-Za-z]+)="([^"]*)"', document["signature"]))
    _sender, kid, algorithm = fields["keyId"].split("|")
    assert algorithm == fields["algorithm"] == "es256"
    public = key_set.get_by_kid(kid).public_key
    raw = base64.b64decode(fields["signature"])
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    content = signing_string(fields["created"], fields["expires"], document["header"], document.get("message"))
    public.verify(der, content, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
    return document


# ---------------------------------------------------------------- the sender's callback receiver


@dataclass
class Callback:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    jwks: dict[str, Any] = field(default_factory=dict)
    answers: deque[int] = field(default_factory=deque)
    received: list[Callback] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            return self.answers.popleft() if self.answers else 200


@contextmanager
def receiver() -> Iterator[Receiver]:
    """The sender's HTTP server on 127.0.0.1: takes POST /mapper/on-* (answering an ACK), serves GET /jwks.json."""
    with http_server(_Handler) as server:
        made = Receiver(url=f"http://{LOCALHOST}:{server.server_port}")
        server.receiver = made  # type: ignore[attr-defined]
        yield made


class _Handler(JsonHandler):
    def do_GET(self) -> None:
        self.send_json(200, self.server.receiver.jwks)  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        made: Receiver = self.server.receiver  # type: ignore[attr-defined]
        body = self.read_body()
        with made.lock:
            made.received.append(Callback(self.path, dict(self.headers), body))
        status = made.answer()
        ack = {
            "message": {"ack_status": "ACK" if status < 300 else "ERR", "timestamp": now_text(), "correlation_id": "x"}
        }
        self.send_json(status, ack)
