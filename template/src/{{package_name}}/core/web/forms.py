"""What pages read from a form, by the core's money rules: an amount a person typed in major units.

One implementation for every module's forms (a cycle's control sum, a tax return's income), so an
amount is read the same way everywhere: digits and a decimal point only — no sign, exponent or
thousands separator to misread — with no more decimals than the currency has (ISO 4217), never
through a float.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from ..i18n import _, format_money
from ..money import Money, MoneyError, minor_units

AMOUNT_TEXT = r"[0-9]{1,20}(\.[0-9]{1,6})?"


def typed_amount(text: str, currency: str, *, most: int) -> int | None:
    """Minor units of `text` typed in major units; None when it is no such amount or above `most`."""
    if not re.fullmatch(AMOUNT_TEXT, text):
        return None
    try:
        minor = Money.from_major(text, currency).amount
    except MoneyError:
        return None
    return minor if minor <= most else None


def amount_error(label: str, currency: str) -> str:
    """The refusal of a typed amount, naming the field (`label`, translated) and what it takes."""
    digits = minor_units(currency)
    example = f"{Decimal(123456789).scaleb(-digits):f}"
    return _(
        "{field}: an amount in {currency} with at most {digits} decimals, without separators (e.g. {example})"
    ).format(field=label, currency=currency, digits=digits, example=example)


def money_text(currency: str) -> Callable[[int], str]:
    """For templates: minor units of `currency` shown in the visitor's locale."""
    return lambda minor: format_money(Money(currency, int(minor)))
