"""base64url without padding (RFC 4648 section 5, as JOSE writes it: RFC 7515 section 2)."""

from __future__ import annotations

import base64


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of base64url text, its padding written or not; ValueError (binascii.Error) when it is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
