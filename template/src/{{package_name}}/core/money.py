"""Money as integer minor units plus an ISO 4217 code; rounding as configured rules.

The exponent comes from ISO 4217 (iso4217 package): JPY 0, KES 2, BHD 3. CLDR
display digits (Babel) differ for several currencies and are used for display only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from enum import StrEnum

import iso4217
from babel import Locale
from babel.numbers import parse_pattern


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def minor_units(currency: str) -> int:
    """ISO 4217 exponent of `currency`, refusing codes that have none (gold, SDR...)."""
    try:
        exponent = iso4217.Currency(currency).exponent
    except ValueError:
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code") from None
    if exponent is None:
        raise MoneyError(f"{currency!r} has no minor unit in ISO 4217 and cannot hold money")
    return exponent


@dataclass(frozen=True, slots=True, order=True)
class Money:
    currency: str
    amount: int  # in the currency's minor unit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError(f"amount must be an integer number of minor units, got {self.amount!r}")
        minor_units(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(currency, 0)

    @classmethod
    def from_major(cls, value: str | int | Decimal, currency: str) -> Money:
        """Parse a major-unit amount such as "1000.50", refusing digits the currency cannot hold."""
        return cls(currency, to_minor(value, currency))

    def to_major(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_units(self.currency))

    def __add__(self, other: Money) -> Money:
        return Money(self.currency, self.amount + self._same_currency(other).amount)

    def __sub__(self, other: Money) -> Money:
        return Money(self.currency, self.amount - self._same_currency(other).amount)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.amount)

    def _same_currency(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def format(self, locale: str) -> str:
        """Display form for `locale`: its own currency pattern (symbol place, grouping such as
        India's 12,34,567), always with the ISO 4217 number of decimals (JPY 0, JOD 3)."""
        digits = minor_units(self.currency)
        parsed = Locale.parse(locale)
        pattern = parse_pattern(parsed.currency_formats["standard"].pattern)  # a fresh copy to adjust
        pattern.frac_prec = (digits, digits)
        return pattern.apply(self.to_major(), parsed, currency=self.currency, currency_digits=False)

    def __str__(self) -> str:
        return f"{self.to_major()} {self.currency}"


def to_minor(value: str | int | Decimal, currency: str) -> int:
    exponent = minor_units(currency)
    try:
        major = Decimal(str(value))
    except ArithmeticError:
        raise MoneyError(f"{value!r} is not a number") from None
    if not major.is_finite():
        raise MoneyError(f"{value!r} is not a finite amount")
    minor = major.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise MoneyError(f"{value} {currency} has more than {exponent} decimal places")
    return int(minor)


class RoundingMode(StrEnum):
    DOWN = "down"  # towards zero: truncation, as Japan's tax law prescribes
    UP = "up"
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    FLOOR = "floor"
    CEILING = "ceiling"


_DECIMAL_MODES = {
    RoundingMode.DOWN: ROUND_DOWN,
    RoundingMode.UP: ROUND_UP,
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: ROUND_HALF_EVEN,
    RoundingMode.FLOOR: ROUND_FLOOR,
    RoundingMode.CEILING: ROUND_CEILING,
}


@dataclass(frozen=True, slots=True)
class Rounding:
    """Round an exact amount (in minor units) to a multiple of `quantum` minor units."""

    mode: RoundingMode
    quantum: int = 1

    def __post_init__(self) -> None:
        if self.quantum < 1:
            raise MoneyError(f"rounding quantum must be at least one minor unit, got {self.quantum}")

    def apply(self, minor: Decimal | int) -> int:
        steps = (Decimal(minor) / self.quantum).quantize(Decimal(1), rounding=_DECIMAL_MODES[self.mode])
        return int(steps) * self.quantum
