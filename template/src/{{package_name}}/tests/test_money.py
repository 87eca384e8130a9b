from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ..core.money import (
    Money,
    MoneyError,
    Rounding,
    RoundingMode,
    divide_rounded,
    major_text,
    major_writer,
    minor_units,
    to_minor,
)

DECIMAL_MODES = {
    RoundingMode.DOWN: ROUND_DOWN,
    RoundingMode.UP: ROUND_UP,
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: ROUND_HALF_EVEN,
    RoundingMode.FLOOR: ROUND_FLOOR,
    RoundingMode.CEILING: ROUND_CEILING,
}


@pytest.mark.parametrize(("currency", "exponent"), [("JPY", 0), ("KES", 2), ("BHD", 3), ("JOD", 3), ("CLF", 4)])
def test_minor_units_come_from_iso_4217(currency: str, exponent: int) -> None:
    assert minor_units(currency) == exponent


def test_unknown_currency_and_currency_without_minor_unit_are_refused() -> None:
    with pytest.raises(MoneyError, match="not an ISO 4217"):
        minor_units("XYZ")
    with pytest.raises(MoneyError, match="no minor unit"):
        minor_units("XAU")


def test_parsing_major_units_is_exact_and_refuses_extra_digits() -> None:
    assert Money.from_major("1000.50", "KES") == Money("KES", 100050)
    assert Money.from_major("1.234", "JOD").amount == 1234
    assert to_minor("100000", "JPY") == 100000
    with pytest.raises(MoneyError, match="more than 0 decimal places"):
        to_minor("1.5", "JPY")
    with pytest.raises(MoneyError, match="not a number"):
        to_minor("ten", "KES")


def test_amounts_must_be_integers() -> None:
    with pytest.raises(MoneyError, match="integer"):
        Money("KES", 10.5)  # type: ignore[arg-type]


def test_arithmetic_refuses_mixed_currencies() -> None:
    assert Money("KES", 5) + Money("KES", 7) == Money("KES", 12)
    with pytest.raises(MoneyError, match="cannot combine"):
        Money("KES", 5) + Money("JPY", 5)


def test_large_amounts_keep_every_minor_unit() -> None:
    big = Money("JPY", 2**24 + 1)
    assert (big + Money("JPY", 1)).amount == 2**24 + 2


@pytest.mark.parametrize(
    ("mode", "quantum", "value", "expected"),
    [
        (RoundingMode.DOWN, 100, 12399, 12300),
        (RoundingMode.DOWN, 1000, 4_999_999, 4_999_000),
        (RoundingMode.HALF_UP, 1, Decimal("2.5"), 3),
        (RoundingMode.HALF_EVEN, 1, Decimal("2.5"), 2),
        (RoundingMode.UP, 100, 12301, 12400),
    ],
)
def test_rounding_rules(mode: RoundingMode, quantum: int, value: Decimal | int, expected: int) -> None:
    assert Rounding(mode, quantum).apply(value) == expected


@settings(max_examples=500, deadline=None)
@given(numerator=st.integers(-(10**20), 10**20), denominator=st.integers(1, 10**6), mode=st.sampled_from(RoundingMode))
def test_integer_rounding_matches_decimal(numerator: int, denominator: int, mode: RoundingMode) -> None:
    expected = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=DECIMAL_MODES[mode])
    assert divide_rounded(numerator, denominator, mode) == int(expected)


@settings(max_examples=500, deadline=None)
@given(
    minor=st.integers(-(10**15), 10**15),
    places=st.integers(0, 8),
    quantum=st.integers(1, 10**4),
    mode=st.sampled_from(RoundingMode),
)
def test_rounding_an_exact_decimal_matches_decimal_quantize(
    minor: int, places: int, quantum: int, mode: RoundingMode
) -> None:
    exact = Decimal(minor).scaleb(-places)
    steps = (exact / quantum).quantize(Decimal(1), rounding=DECIMAL_MODES[mode])
    assert Rounding(mode, quantum).apply(exact) == int(steps) * quantum


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (100050, "KES", "1000.50"),
        (-150, "KES", "-1.50"),
        (5, "BHD", "0.005"),
        (100000, "JPY", "100000"),
        (-7, "KES", "-0.07"),
    ],
)
def test_minor_units_as_major_text(minor: int, currency: str, text: str) -> None:
    assert major_text(minor, currency) == text
    assert major_writer(currency)(minor) == text
    assert str(Money(currency, minor)) == f"{text} {currency}"


def test_major_text_keeps_digits_finer_than_a_minor_unit_and_groups_on_request() -> None:
    assert major_text(Decimal("123456.5"), "KES") == "1234.565"
    assert major_text(123456700, "KES", grouped=True) == "1,234,567.00"
    assert major_text(Decimal("-5"), "JPY") == "-5"


def test_display_uses_iso_digits_not_cldr() -> None:
    assert Money("JPY", 100000).format("ja_JP") == "￥100,000"
    assert Money("BHD", 1234).format("en") == "BHD1.234"
