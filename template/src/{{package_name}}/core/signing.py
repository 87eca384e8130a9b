"""Message signatures with the deployment's key, for the standards adapters (G2P Connect in payments, DCI in identity).

Our key is P-256 (JWS `ES256`), derived from SECRET_KEY with HKDF under its own label, so every
process of a deployment signs with the same key; the core publishes it at `/.well-known/jwks.json`
(core/system.py), whichever modules are installed. A partner system's keys are registered with it as a
JWKS, or fetched from its JWKS URL. Two wire forms, as implementations of these standards differ
(docs/standards.md):

- the HTTP header `Signature` holding a JWS in compact form whose payload is the exact request body,
  detached (RFC 7515 appendix F: `<protected>..<signature>`);
- the envelope's own `signature` field, in the form both specifications' example shows
  (`keyId="{sender_id}|{kid}|{algorithm}", algorithm=..., created, expires, headers="(created)
  (expires) digest", signature=...`), over the digest of the header and message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jws import JWSRegistry

from .encoding import b64url_decode, b64url_encode
from .keys import derive_key

# The deployment's one signing key (G2P Connect, DCI). No release had the G2P Connect key payments derived
# before it moved here, so no sender holds a key this label would change.
SIGNING_PURPOSE = "message signing p-256 v1"
ALGORITHM = "ES256"
# What a sender's key may sign with (JWS names). Symmetric and `none` never: a public key verifies.
SENDER_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
# The body form names its algorithm in lower case (the specification's example: `ed25519`).
BODY_ALGORITHMS = {"ed25519": "EdDSA", "es256": "ES256", "es384": "ES384", "rs256": "RS256", "ps256": "PS256"}
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_JWKS_CACHE_SECONDS = 300
_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class BadSignature(Exception):
    """A signature that is missing (`missing`) or does not verify; the text says which part failed."""

    def __init__(self, text: str, *, missing: bool = False) -> None:
        super().__init__(text)
        self.missing = missing


@dataclass(frozen=True)
class OurKey:
    key: ECKey
    kid: str

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.kid, "use": "sig", "alg": ALGORITHM}


@lru_cache(maxsize=4)
def our_key(secret: str) -> OurKey:
    """The deployment's signing key: a P-256 scalar from HKDF(SECRET_KEY), the same in every process."""
    scalar = int.from_bytes(derive_key(secret, SIGNING_PURPOSE, 48), "big") % (_P256_ORDER - 1) + 1
    private = ec.derive_private_key(scalar, ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = ECKey.import_key(pem)
    return OurKey(key=key, kid=key.thumbprint())


def jwks(secret: str) -> dict[str, Any]:
    """What `/.well-known/jwks.json` publishes: our public key."""
    return {"keys": [our_key(secret).public_jwk()]}


# ---------------------------------------------------------------- the JWS header form


def sign_detached(body: bytes, secret: str) -> str:
    """`<protected>..<signature>`: a JWS over the exact bytes of `body`, the payload left out."""
    ours = our_key(secret)
    compact = jws.serialize_compact({"alg": ALGORITHM, "kid": ours.kid}, body, ours.key, algorithms=[ALGORITHM])
    protected, _payload, signature = compact.split(".")
    return f"{protected}..{signature}"


def verify_detached(value: str | None, body: bytes, keys: KeySet) -> None:
    """Check a detached JWS over `body` with one of the sender's keys; BadSignature otherwise."""
    if not value:
        raise BadSignature("no Signature header", missing=True)
    parts = value.strip().split(".")
    if len(parts) != 3 or parts[1]:
        raise BadSignature("the Signature header is not a detached JWS (<protected>..<signature>)")
    try:
        protected = json.loads(b64url_decode(parts[0]))
    except (ValueError, TypeError):
        raise BadSignature("the JWS protected header is not JSON") from None
    if not isinstance(protected, dict) or protected.get("alg") not in SENDER_ALGORITHMS:
        raise BadSignature(f"the JWS algorithm must be one of {', '.join(SENDER_ALGORITHMS)}")
    key = _key_of(keys, protected.get("kid"))
    whole = f"{parts[0]}.{b64url_encode(body)}.{parts[2]}"
    try:
        with warnings.catch_warnings():  # joserfc warns that RFC 9864 deprecates the name EdDSA
            warnings.simplefilter("ignore")
            jws.deserialize_compact(whole, key, algorithms=[protected["alg"]])
    except (JoseError, ValueError) as error:
        raise BadSignature(f"the JWS does not verify ({error})") from None


# ---------------------------------------------------------------- the body form (the specification's example)


def canonical(header: Any, message: Any) -> bytes:
    """The bytes the body form signs the digest of: header and message as sorted, compact UTF-8 JSON."""
    return json.dumps(
        {"header": header, "message": message}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _signing_string(created: str, expires: str, header: Any, message: Any) -> bytes:
    digest = base64.b64encode(hashlib.blake2b(canonical(header, message), digest_size=64).digest()).decode()
    return f"(created): {created}\n(expires): {expires}\ndigest: BLAKE-512={digest}".encode()


def sign_body(header: Any, message: Any, *, namespace: str, sender_id: str, secret: str, lifetime: int = 3600) -> str:
    """The envelope's `signature` field, in the form the G2P Connect and DCI examples show, by our key."""
    ours = our_key(secret)
    created = int(time.time())
    expires = created + lifetime
    raw = JWSRegistry.algorithms[ALGORITHM].sign(_signing_string(str(created), str(expires), header, message), ours.key)
    return (
        f'Signature: namespace="{namespace}", keyId="{sender_id}|{ours.kid}|es256", algorithm="es256", '
        f'created="{created}", expires="{expires}", headers="(created) (expires) digest", '
        f'signature="{base64.b64encode(raw).decode()}"'
    )


_PARAMETER = re.compile(r'([A-Za-z]+)="([^"]*)"')


def verify_body(value: str | None, header: Any, message: Any, *, sender_id: str, keys: KeySet) -> None:
    if not value:
        raise BadSignature("no signature in the message", missing=True)
    fields = dict(_PARAMETER.findall(value))
    key_id = fields.get("keyId") or fields.get("kidId")  # the specification's example spells it kidId
    if not key_id or key_id.count("|") != 2:
        raise BadSignature('signature: keyId must be "{sender_id}|{key id}|{algorithm}"')
    signer, kid, algorithm = key_id.split("|")
    if signer != sender_id:
        raise BadSignature(f"signature: keyId names sender {signer!r}, the header {sender_id!r}")
    alg = BODY_ALGORITHMS.get((fields.get("algorithm") or algorithm).lower())
    if alg is None:
        raise BadSignature(f"signature: algorithm must be one of {', '.join(BODY_ALGORITHMS)}")
    created, expires = fields.get("created", ""), fields.get("expires", "")
    if not (created.isdigit() and expires.isdigit()):
        raise BadSignature("signature: created and expires must be UNIX times")
    now = time.time()
    if int(created) > now + 300 or int(expires) < now:
        raise BadSignature("signature: outside its created..expires window")
    try:
        raw = base64.b64decode(fields.get("signature", ""), validate=True)
    except ValueError:
        raise BadSignature("signature: the signature is not base64") from None
    key = _key_of(keys, kid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ok = JWSRegistry.algorithms[alg].verify(_signing_string(created, expires, header, message), raw, key)
        except (JoseError, ValueError, TypeError):
            ok = False
    if not ok:
        raise BadSignature("signature: does not verify with the sender's key")


# ---------------------------------------------------------------- the senders' keys


def sender_keys(*, jwks_document: dict[str, Any] | None, jwks_url: str | None, timeout: float = 5.0) -> KeySet:
    """The sender's public keys: registered with it, or fetched from its JWKS URL (kept for five minutes)."""
    document = jwks_document
    if document is None and jwks_url:
        cached = _jwks_cache.get(jwks_url)
        if cached is not None and cached[0] > time.monotonic():
            document = cached[1]
        else:
            try:
                answer = httpx.get(jwks_url, timeout=timeout)
                answer.raise_for_status()
                document = answer.json()
            except (httpx.HTTPError, ValueError) as error:
                raise BadSignature(f"the sender's keys could not be fetched from {jwks_url} ({error})") from None
            _jwks_cache[jwks_url] = (time.monotonic() + _JWKS_CACHE_SECONDS, document)
    if not isinstance(document, dict):
        raise BadSignature("the sender has no keys registered")
    try:
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise BadSignature(f"the sender's keys are not a usable JWKS ({error})") from None


def check_jwks(document: Any) -> KeySet:
    """A sender's JWKS as registered: public keys only, at least one."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list) or not document["keys"]:
        raise ValueError('a JWKS is {"keys": [...]} with at least one key')
    if any(isinstance(key, dict) and "d" in key for key in document["keys"]):
        raise ValueError("the JWKS holds a private key; register the public keys only")
    return KeySet.import_key_set(document)


def _key_of(keys: KeySet, kid: str | None) -> Any:
    if kid:
        try:
            return keys.get_by_kid(kid)
        except (ValueError, KeyError):
            raise BadSignature(f"no key {kid!r} among the sender's keys") from None
    if len(keys.keys) == 1:
        return keys.keys[0]
    raise BadSignature("the signature names no key (kid) and the sender has several")
