"""G2P Connect's signing methods and OAuth2 access tokens (g2p.py); the signatures themselves are the core's.

The key, its JWKS and both signature forms are core/signing.py's, shared with DCI in identity. G2P
Connect v1.0.0 describes a signature but no one wire form for it, and implementations differ, so each
sender is registered with one of these methods (docs/standards.md):

- `jws-header`: the HTTP header `Signature` holds a detached JWS over the exact request body;
- `body`: the envelope's own `signature` field, in the form the specification's example shows;
- `none`: nothing is checked (a gateway in front verified it); our answers are still signed in the header.
"""

from __future__ import annotations

import json
import secrets
import time
from enum import StrEnum
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from ...core.encoding import b64url_decode
from ...core.signing import ALGORITHM, our_key

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT type of an access token (RFC 9068)


class SigningMethod(StrEnum):
    JWS_HEADER = "jws-header"
    BODY = "body"
    NONE = "none"


# ---------------------------------------------------------------- OAuth2 access tokens (client credentials)


def issue_token(*, secret: str, issuer: str, sender_id: str, partner_id: int, scope: str, seconds: int) -> str:
    ours = our_key(secret)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": issuer,
        "sub": sender_id,
        "pid": partner_id,
        "scope": scope,
        "iat": now,
        "exp": now + seconds,
        "jti": secrets.token_hex(8),
    }
    header = {"alg": ALGORITHM, "kid": ours.kid, "typ": TOKEN_TYPE}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return jws.serialize_compact(header, payload, ours.key, algorithms=[ALGORITHM])


class NotOurToken(Exception):
    """A bearer token that is not an access token we issued (it may be a staff session's)."""


class ExpiredToken(Exception):
    """An access token we issued, now expired."""


def read_token(token: str, *, secret: str, issuer: str) -> dict[str, Any]:
    """The claims of an access token we issued; NotOurToken or ExpiredToken otherwise."""
    if token.count(".") != 2:
        raise NotOurToken
    try:
        protected = json.loads(b64url_decode(token.split(".", 1)[0]))
        if not isinstance(protected, dict) or protected.get("typ") != TOKEN_TYPE:
            raise NotOurToken
        payload = jws.deserialize_compact(token, our_key(secret).key, algorithms=[ALGORITHM]).payload
        claims = json.loads(payload)
    except (JoseError, ValueError, TypeError):
        raise NotOurToken from None
    if not isinstance(claims, dict) or claims.get("iss") != issuer or not isinstance(claims.get("pid"), int):
        raise NotOurToken
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        raise ExpiredToken
    return claims
