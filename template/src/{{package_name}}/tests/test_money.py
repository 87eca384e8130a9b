from decimal import Decimal

import pytest

from ..core.money import Money, MoneyError, Rounding, RoundingMode, minor_units, to_minor


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


def test_display_uses_iso_digits_not_cldr() -> None:
    assert Money("JPY", 100000).format("ja_JP") == "￥100,000"
    assert Money("BHD", 1234).format("en") == "BHD1.234"
