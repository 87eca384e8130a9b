from __future__ import annotations

import pytest
from stdnum import luhn

from ..tins import InvalidTin, generate, validate


@pytest.mark.parametrize("length", [6, 9, 12, 20])
def test_generated_tins_have_the_length_and_a_luhn_check_digit(length: int) -> None:
    for _ in range(200):
        tin = generate(length)
        assert len(tin) == length
        assert tin.isdigit()
        assert tin[0] != "0"
        assert luhn.is_valid(tin)
        assert validate(tin, length=length) == tin


def test_the_body_comes_from_the_random_source() -> None:
    digits = iter([3, 1, 4, 1, 5, 9, 2, 6])
    tin = generate(9, randbelow=lambda _bound: next(digits))
    assert tin[:8] == "41415926"  # the first digit is drawn from 1-9: 3 + 1
    assert tin == "41415926" + luhn.calc_check_digit("41415926")


def test_a_wrong_check_digit_is_named() -> None:
    tin = generate(9)
    wrong = tin[:-1] + str((int(tin[-1]) + 1) % 10)
    with pytest.raises(InvalidTin, match="wrong check digit"):
        validate(wrong, length=9)


@pytest.mark.parametrize(("value", "message"), [("12345678a", "digits only"), ("12345674", "has 8 digits")])
def test_malformed_tins_are_refused(value: str, message: str) -> None:
    with pytest.raises(InvalidTin, match=message):
        validate(value, length=9)
