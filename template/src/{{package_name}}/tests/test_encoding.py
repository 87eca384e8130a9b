"""base64url without padding, as JOSE, signed cookies and MOSIP write it."""

from __future__ import annotations

import pytest

from ..core.encoding import b64url_decode, b64url_encode

pytestmark = pytest.mark.country_independent  # reads no country data


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"\xfb\xff\xfe"])
def test_encoded_without_padding_in_the_url_alphabet_and_read_back(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


def test_padding_may_be_written_or_not() -> None:
    assert b64url_decode("-_8") == b64url_decode("-_8=") == b"\xfb\xff"


@pytest.mark.parametrize("text", ["a", "abcde", "é"])
def test_what_is_not_base64url_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)
