"""Money as integer minor units plus an ISO 4217 code; rounding as configured rules.

The exponent comes from ISO 4217 (iso4217 package): JPY 0, KES 2, BHD 3. CLDR
display digits (Babel) differ for several currencies and are used for display only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from enum import StrEnum
from functools import cache, lru_cache

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
        return f"{major_text(self.amount, self.currency)} {self.currency}"


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


def major_text(minor: int | Decimal, currency: str, *, grouped: bool = False) -> str:
    """`minor` units as major-unit text with the currency's ISO 4217 decimals: 100050 KES -> "1000.50".

    An exact amount finer than a minor unit (a tax before rounding) keeps the further digits it has;
    `grouped` separates thousands with commas, for people rather than messages.
    """
    if isinstance(minor, int) and not grouped:
        return major_writer(currency)(minor)
    exponent = minor_units(currency)
    with localcontext(Context(prec=60)):  # its own context: a caller's traps (Inexact) are not for display
        value = Decimal(minor).scaleb(-exponent)
        digits = Decimal(1).scaleb(-exponent)
        value = value.quantize(digits) if value == value.quantize(digits) else value.normalize()
    return f"{value:,f}" if grouped else f"{value:f}"


@cache
def major_writer(currency: str) -> Callable[[int], str]:
    """`major_text` for whole minor units of one currency, for a million amounts (ISO 20022 messages)."""
    exponent = minor_units(currency)
    if exponent == 0:
        return str
    scale = 10**exponent

    @lru_cache(maxsize=4096)  # a cycle's amounts repeat (flat rates, brackets): each is written once
    def write(minor: int) -> str:
        whole, part = divmod(abs(minor), scale)
        return f"{'-' if minor < 0 else ''}{whole}.{part:0{exponent}d}"

    return write


class RoundingMode(StrEnum):
    DOWN = "down"  # towards zero: truncation, as Japan's tax law prescribes
    UP = "up"
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    FLOOR = "floor"
    CEILING = "ceiling"


def divide_rounded(numerator: int, denominator: int, mode: RoundingMode) -> int:
    """numerator / denominator rounded to an integer with `mode` (denominator > 0), in integers only."""
    quotient, remainder = divmod(numerator, denominator)  # floor division: remainder >= 0
    if remainder == 0 or mode is RoundingMode.FLOOR:
        return quotient
    if mode is RoundingMode.CEILING:
        return quotient + 1
    if mode is RoundingMode.DOWN:  # towards zero
        return quotient + 1 if numerator < 0 else quotient
    if mode is RoundingMode.UP:  # away from zero
        return quotient if numerator < 0 else quotient + 1
    twice = 2 * remainder
    if twice < denominator:
        return quotient
    if twice > denominator:
        return quotient + 1
    if mode is RoundingMode.HALF_EVEN:
        return quotient + (quotient & 1)
    # HALF_UP: a tie goes away from zero
    return quotient if numerator < 0 else quotient + 1


@dataclass(frozen=True, slots=True)
class Rounding:
    """Round an exact amount (in minor units) to a multiple of `quantum` minor units."""

    mode: RoundingMode
    quantum: int = 1

    def __post_init__(self) -> None:
        if self.quantum < 1:
            raise MoneyError(f"rounding quantum must be at least one minor unit, got {self.quantum}")

    def apply(self, minor: Decimal | int) -> int:
        """An exact amount in minor units, rounded; a Decimal is taken as the exact fraction it holds."""
        if isinstance(minor, int):
            return self.apply_ratio(minor)
        if not minor.is_finite():
            raise MoneyError(f"{minor} is not a finite amount")
        numerator, denominator = minor.as_integer_ratio()
        return self.apply_ratio(numerator, denominator)

    def apply_ratio(self, numerator: int, denominator: int = 1) -> int:
        """(numerator / denominator) minor units rounded, in integers only: the bulk path of a million rows."""
        return divide_rounded(numerator, denominator * self.quantum, self.mode) * self.quantum
