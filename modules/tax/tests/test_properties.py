"""Properties of any progressive scale, checked by hypothesis on generated laws and incomes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ..config import TaxCountry
from ..law import IncomeTaxLaw
from .laws import SHIPPED

CURRENCIES = {"JPY": 0, "KES": 2, "JOD": 3}
MAX_INCOME = 10**15  # minor units: far above 2^24 and 2^53


@st.composite
def progressive_laws(draw: st.DrawFn) -> tuple[IncomeTaxLaw, dict[str, Any]]:
    """A law with increasing thresholds and non-decreasing rates, random rounding and relief."""
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    steps = draw(st.lists(st.integers(1, 10**7), min_size=0, max_size=6))
    thresholds = [0]
    for step in steps:
        thresholds.append(thresholds[-1] + step)
    rates = sorted(draw(st.lists(st.integers(0, 1000), min_size=len(thresholds), max_size=len(thresholds))))
    quantum = lambda: str(draw(st.sampled_from([1, 10, 100, 1000])))  # noqa: E731 - major units
    data = {
        "income_tax": {
            "scale": [
                {
                    "since": "2020-01-01",
                    "brackets": [
                        {"from": str(t), "rate": str(Decimal(r) / 1000)} for t, r in zip(thresholds, rates, strict=True)
                    ],
                }
            ],
            "allowance": [{"since": "2020-01-01", "amount": str(draw(st.integers(0, 10**6)))}],
            "relief": [{"since": "2020-01-01", "amount": str(draw(st.integers(0, 10**5)))}],
            "rounding": {
                "base": {"mode": draw(st.sampled_from(["down", "half_up", "half_even"])), "quantum": quantum()},
                "tax": {"mode": draw(st.sampled_from(["down", "half_up", "up"])), "quantum": quantum()},
            },
        }
    }
    return IncomeTaxLaw.from_country(TaxCountry.model_validate(data), currency), data


laws = st.one_of(
    progressive_laws(),
    st.sampled_from(sorted(SHIPPED)).map(lambda c: (IncomeTaxLaw.from_country(TaxCountry(**SHIPPED[c]), c), None)),
)
incomes = st.integers(0, MAX_INCOME)


@settings(max_examples=300, deadline=None)
@given(law=laws, a=incomes, b=incomes)
def test_tax_is_monotone_non_decreasing_in_income(law: tuple[IncomeTaxLaw, Any], a: int, b: int) -> None:
    calculator, _ = law
    low, high = sorted((a, b))
    assert calculator.calculate(income=low, year=2025).tax_due <= calculator.calculate(income=high, year=2025).tax_due


@settings(max_examples=300, deadline=None)
@given(law=laws, income=incomes, extra=st.integers(1, 10**12))
def test_the_marginal_rate_never_exceeds_the_top_rate(law: tuple[IncomeTaxLaw, Any], income: int, extra: int) -> None:
    calculator, _ = law
    scale = calculator.scale_in_force(2025)
    top = max(bracket.rate for bracket in scale)
    before = calculator.calculate(income=income, year=2025)
    after = calculator.calculate(income=income + extra, year=2025)
    # Exact scale tax (before relief and rounding) grows at most at the top rate ...
    exact = [Decimal(next(s for s in c.trace_dicts() if s["step"] == "relief")["tax_before"]) for c in (before, after)]
    assert exact[1] - exact[0] <= top * (after.taxable - before.taxable)
    # ... and rounding adds at most one quantum of each stage.
    slack = top * (extra + calculator.base_rounding.rule.quantum) + calculator.tax_rounding.rule.quantum
    assert after.tax_due - before.tax_due <= slack


@settings(max_examples=300, deadline=None)
@given(law=laws, income=incomes)
def test_amounts_are_whole_minor_units(law: tuple[IncomeTaxLaw, Any], income: int) -> None:
    calculator, _ = law
    result = calculator.calculate(income=income, year=2025)
    for amount in (result.taxable, result.tax_due):
        assert type(amount) is int
        assert amount >= 0
    assert result.tax_due % calculator.tax_rounding.rule.quantum == 0
    assert result.taxable % calculator.base_rounding.rule.quantum == 0
    slices = [step["slice"] for step in result.trace_dicts() if step["step"] == "bracket"]
    assert all(type(s) is int for s in slices)
    assert sum(slices) == result.taxable
