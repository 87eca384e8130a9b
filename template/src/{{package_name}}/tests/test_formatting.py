"""Money is shown in the deployment's locale with exactly the ISO 4217 number of decimals."""

import pytest
from babel.numbers import get_decimal_symbol

from ..core.country import LoadedCountry
from ..core.money import Money, minor_units

# What each shipped profile's locale shows for 100,000 and 1,234,567.5 major units.
SHOWN = {
    ("JPY", "ja_JP"): ("￥100,000", None),  # no minor unit: no decimals, never rounded silently
    ("JOD", "ar_JO"): ("\u200f100,000.000\xa0د.أ.\u200f", "\u200f1,234,567.500\xa0د.أ.\u200f"),  # three (fils)
    ("KES", "en_KE"): ("Ksh100,000.00", "Ksh1,234,567.50"),
    ("GHS", "en_GH"): ("GH₵100,000.00", "GH₵1,234,567.50"),
    ("NGN", "en_NG"): ("₦100,000.00", "₦1,234,567.50"),
    ("RWF", "rw_RW"): ("RF\xa0100.000", None),
    ("ETB", "am_ET"): ("ብር100,000.00", "ብር1,234,567.50"),
    ("INR", "en_IN"): ("₹1,00,000.00", "₹12,34,567.50"),  # Indian grouping (lakh, crore)
}


@pytest.mark.parametrize(("currency", "locale"), sorted(SHOWN))
def test_each_shipped_currency_is_shown_as_its_locale_writes_it(currency: str, locale: str) -> None:
    whole, fraction = SHOWN[currency, locale]
    assert Money.from_major("100000", currency).format(locale) == whole
    if fraction is not None:
        assert Money.from_major("1234567.5", currency).format(locale) == fraction


def test_the_yen_is_shown_without_decimals_in_english_too() -> None:
    assert Money.from_major("100000", "JPY").format("en") == "¥100,000"
    assert Money.from_major("1.234", "JOD").format("en") == "JOD1.234"


def test_the_deployments_currency_shows_its_iso_decimals(country: LoadedCountry) -> None:
    profile = country.profile
    digits = minor_units(profile.currency)
    decimal = get_decimal_symbol(profile.locale)
    smallest = Money(profile.currency, 1).format(profile.locale)  # KES 0.01, JOD 0.001, JPY 1
    if digits:
        assert decimal + "0" * (digits - 1) + "1" in smallest
    else:
        assert decimal not in smallest
    if (profile.currency, profile.locale) in SHOWN:
        shown = profile.format_money(Money.from_major("100000", profile.currency))
        assert shown == SHOWN[profile.currency, profile.locale][0]
