"""The calculator against figures worked out by hand from the shipped laws."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import pairwise

import pytest

from ..law import Calculation, LawNotInForce
from .laws import JAPAN, KENYA, changed, law


def steps(calculation: Calculation, name: str) -> list[dict]:
    return [step for step in calculation.trace_dicts() if step["step"] == name]


def test_japan_2024_seven_million_yen() -> None:
    result = law("JPY").calculate(income=7_000_000, year=2024)
    # 7,000,000 - 480,000 basic deduction = 6,520,000; the NTA quick table: x 20% - 427,500.
    assert result.taxable == 6_520_000
    assert result.tax_due == 876_500 == 6_520_000 * 20 // 100 - 427_500
    brackets = steps(result, "bracket")
    assert [(b["from"], b["to"], b["rate"], b["slice"], b["tax"]) for b in brackets] == [
        (0, 1_950_000, "0.05", 1_950_000, "97500"),
        (1_950_000, 3_300_000, "0.10", 1_350_000, "135000"),
        (3_300_000, 6_950_000, "0.20", 3_220_000, "644000"),
    ]
    (allowance,) = steps(result, "allowance")
    assert (allowance["amount"], allowance["since"]) == (480_000, "2020-01-01")
    (tax_rounding,) = steps(result, "tax_rounding")
    assert (tax_rounding["mode"], tax_rounding["quantum"], tax_rounding["after"]) == ("down", 100, 876_500)
    assert result.trace_dicts()[-1] == {"step": "tax_due", "note": "tax due 876,500 JPY", "amount": 876_500}


def test_japan_before_2020_uses_the_older_basic_deduction() -> None:
    result = law("JPY").calculate(income=7_000_000, year=2019)
    assert steps(result, "allowance")[0]["since"] == "2015-01-01"
    assert result.taxable == 6_620_000
    assert result.tax_due == 896_500  # 6,620,000 x 20% - 427,500


def test_japan_truncates_the_base_below_1000_yen_before_the_scale() -> None:
    result = law("JPY").calculate(income=4_999_999, year=2024)
    (base_rounding,) = steps(result, "base_rounding")
    assert (base_rounding["before"], base_rounding["after"]) == ("4519999", 4_519_000)
    # 97,500 + 135,000 + (4,519,000 - 3,300,000) x 20% = 476,300; without the base
    # truncation the tax would be 476,499.8, truncated to 476,400.
    assert result.tax_due == 476_300


def test_japan_truncates_the_tax_below_100_yen() -> None:
    result = law("JPY").calculate(income=2_001_000, year=2024)
    assert result.taxable == 1_521_000
    (tax_rounding,) = steps(result, "tax_rounding")
    assert tax_rounding["before"] == "76050"
    assert result.tax_due == 76_000


def test_japan_top_band_is_exact_above_ten_million_yen() -> None:
    result = law("JPY").calculate(income=50_000_000, year=2024)
    assert result.tax_due == 17_488_000 == 49_520_000 * 45 // 100 - 4_796_000


def test_kenya_2024_with_personal_relief() -> None:
    result = law("KES").calculate(income=1_000_000_00, year=2024)
    # 288,000 x 10% + 100,000 x 25% + 612,000 x 30% = 237,400; less relief 28,800.
    assert steps(result, "scale")[0]["since"] == "2023-07-01"
    (relief,) = steps(result, "relief")
    assert (relief["amount"], relief["tax_before"], relief["tax_after"]) == (28_800_00, "23740000", "20860000")
    assert result.tax_due == 208_600_00


def test_kenya_bands_changed_between_2022_and_2024() -> None:
    income = 10_000_000_00
    assert law("KES").calculate(income=income, year=2022).tax_due == 2_908_600_00
    assert law("KES").calculate(income=income, year=2024).tax_due == 3_018_600_00
    # The July 2023 bands are not yet in force on 1 January 2023, the start of that year.
    assert steps(law("KES").calculate(income=income, year=2023), "scale")[0]["since"] == "2021-01-01"


def test_a_fiscal_year_starting_in_july_picks_the_values_in_force_on_that_day() -> None:
    july = law("KES", changed(KENYA, ("fiscal_year_start",), "07-01"))
    result = july.calculate(income=10_000_000_00, year=2023)
    assert steps(result, "law")[0]["in_force_on"] == "2023-07-01"
    assert steps(result, "scale")[0]["since"] == "2023-07-01"
    assert result.tax_due == 3_018_600_00


def test_relief_larger_than_the_tax_gives_zero_not_a_negative_tax() -> None:
    assert law("KES").calculate(income=200_000_00, year=2024).tax_due == 0


@pytest.mark.parametrize(("income", "tax_due"), [(388_000_05, 25_000_00 + 2), (388_000_04, 25_000_00 + 1)])
def test_kenya_rounds_half_a_cent_up_after_exact_arithmetic(income: int, tax_due: int) -> None:
    # KES 53,800 on the first 388,000, less 28,800 relief, is 25,000.00; the extra
    # cents are taxed at 30%: 5 cents give 1.5 cents (up to 2), 4 cents give 1.2 (down to 1).
    result = law("KES").calculate(income=income, year=2024)
    assert steps(result, "tax_rounding")[0]["before"] in ("2500001.5", "2500001.2")
    assert result.tax_due == tax_due


def test_jordan_three_minor_digits_above_two_to_the_24_fils() -> None:
    income = 123_456_789  # JOD 123,456.789: beyond what float32 holds exactly (2^24 = 16,777,216)
    assert income > 2**24
    result = law("JOD").calculate(income=income, year=2024)
    # Taxable 114,456.789: 250 + 500 + 750 + 1,000 + 94,456.789 x 25% = 26,114.19725 JOD.
    assert result.taxable == 114_456_789
    assert steps(result, "tax_rounding")[0]["before"] == "26114197.25"
    assert result.tax_due == 26_114_197


@pytest.mark.parametrize(
    ("currency", "earliest"), [("KES", "2021-01-01"), ("JPY", "2015-01-01"), ("JOD", "2020-01-01")]
)
def test_a_year_before_every_since_is_refused(currency: str, earliest: str) -> None:
    with pytest.raises(LawNotInForce) as error:
        law(currency).calculate(income=1_000_000, year=int(earliest[:4]) - 1)
    assert error.value.status == 422
    assert f"the earliest applies from {earliest}" in error.value.detail


def test_the_trace_adds_up() -> None:
    result = law("JPY").calculate(income=31_234_567, year=2024)
    brackets = steps(result, "bracket")
    assert sum(b["slice"] for b in brackets) == result.taxable
    assert sum(Decimal(b["tax"]) for b in brackets) == Decimal(steps(result, "relief")[0]["tax_before"])
    assert [s["step"] for s in result.trace_dicts()][:5] == ["law", "income", "allowance", "base_rounding", "scale"]


def test_a_law_without_allowance_or_relief_says_so() -> None:
    bare = changed(JAPAN, ("income_tax", "allowance"), [])
    bare["income_tax"].pop("relief")
    result = law("JPY", bare).calculate(income=1_000_000, year=2024)
    assert "none configured" in steps(result, "allowance")[0]["note"]
    assert "none configured" in steps(result, "relief")[0]["note"]
    assert result.tax_due == 50_000


def test_negative_or_fractional_income_is_refused() -> None:
    with pytest.raises(Exception, match="non-negative number of minor units"):
        law("JPY").calculate(income=-1, year=2024)
    with pytest.raises(Exception, match="non-negative number of minor units"):
        law("JPY").calculate(income=1.5, year=2024)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("currency", "year"), [("KES", 2022), ("KES", 2024), ("JPY", 2019), ("JPY", 2024), ("JOD", 2024)]
)
def test_tax_never_falls_as_income_rises(currency: str, year: int) -> None:
    calculator = law(currency)
    rng = random.Random(f"{currency}{year}")
    scale_top = calculator.scale_in_force(year)[-1].threshold
    incomes = sorted({0, *(rng.randrange(0, scale_top * 3) for _ in range(2000))})
    # Dense around every threshold too, where a wrong band edge would show.
    for bracket in calculator.scale_in_force(year):
        incomes.extend(bracket.threshold + delta for delta in range(-3, 4) if bracket.threshold + delta >= 0)
    incomes.sort()
    taxes = [calculator.calculate(income=income, year=year).tax_due for income in incomes]
    assert all(a <= b for a, b in pairwise(taxes))
    assert all(0 <= tax <= income for tax, income in zip(taxes, incomes, strict=True))
