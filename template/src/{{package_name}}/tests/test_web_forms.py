"""Amounts typed into a page's form are read by the money rules: major units, the currency's decimals, no float."""

from __future__ import annotations

from ..core.country import LoadedCountry
from ..core.i18n import use_locale
from ..core.money import major_text, minor_units
from ..core.web.forms import amount_error, money_text, typed_amount

MOST = 10**15


def test_amounts_are_typed_in_major_units_by_the_money_rules(country: LoadedCountry) -> None:
    currency = country.profile.currency
    digits = minor_units(currency)
    assert typed_amount(major_text(123_456, currency), currency, most=MOST) == 123_456
    assert typed_amount("7", currency, most=MOST) == 7 * 10**digits
    if digits:
        assert typed_amount("1.5", currency, most=MOST) == 15 * 10 ** (digits - 1)
    too_fine = "1." + "1" * (digits + 1)  # more decimals than the currency has
    for refused in ("1,5", "1e3", "-1", "+1", "NaN", "Infinity", " ", "", too_fine, "1." + "0" * 7, "9" * 21):
        assert typed_amount(refused, currency, most=MOST) is None, refused
    assert typed_amount("100", currency, most=100 * 10**digits) == 100 * 10**digits
    assert typed_amount("100.5" if digits else "101", currency, most=100 * 10**digits) is None


def test_a_refused_amount_names_the_field_the_currency_and_its_decimals(country: LoadedCountry) -> None:
    currency = country.profile.currency
    message = amount_error("Income", currency)
    assert message.startswith("Income: ") and currency in message and str(minor_units(currency)) in message


def test_amounts_are_shown_in_the_visitors_locale() -> None:
    with use_locale("en_KE"):
        assert "1,234.56" in money_text("KES")(123_456)
    with use_locale("ar_JO"):
        assert "١٬٢٣٤٫٥٦٧" in money_text("JOD")(1_234_567) or "1,234.567" in money_text("JOD")(1_234_567)
