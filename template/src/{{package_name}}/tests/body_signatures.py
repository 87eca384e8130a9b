"""The envelope body signature's signing string, written again on the tests' side from the specifications.

G2P Connect and DCI sign the same string; the partner systems the tests play (a G2P sender, a civil
registry) sign and verify with this copy, not with core/signing.py, so a mistake there cannot pass
its own check.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any


def signing_string(created: str, expires: str, header: Any, message: Any) -> bytes:
    """The BLAKE2b-512 digest of header and message as sorted compact JSON, with the signature's times."""
    canonical = json.dumps(
        {"header": header, "message": message}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    digest = base64.b64encode(hashlib.blake2b(canonical, digest_size=64).digest()).decode()
    return f"(created): {created}\n(expires): {expires}\ndigest: BLAKE-512={digest}".encode()
