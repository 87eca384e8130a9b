"""The integer bulk calculator gives exactly what the traced calculator gives."""

from __future__ import annotations

import json
from decimal import Decimal
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from .. import fast
from ..fast import YearLaw
from .test_properties import laws


@settings(max_examples=400, deadline=None)
@given(law=laws, income=st.integers(0, 10**15))
def test_the_bulk_calculator_equals_the_traced_one(law, income: int) -> None:
    calculator, _ = law
    year_law = YearLaw.of(calculator, 2025)
    taxable, tax_due, _exact = year_law.calculate(income)
    traced = calculator.calculate(income=income, year=2025)
    assert (taxable, tax_due) == (traced.taxable, traced.tax_due)
    (summary,) = year_law.trace(income, taxable, tax_due, _exact)
    relief = next(step for step in traced.trace_dicts() if step["step"] == "relief")
    assert Decimal(summary["tax_before_rounding"]) == Decimal(relief["tax_after"])


@settings(max_examples=200, deadline=None)
@given(law=laws, income=st.integers(0, 10**15))
def test_the_trace_writer_writes_the_trace_as_json(law, income: int) -> None:
    calculator, _ = law
    year_law = YearLaw.of(calculator, 2025)
    figures = (income, *year_law.calculate(income))
    assert json.loads(year_law.trace_writer()(*figures)) == year_law.trace(*figures)


@settings(max_examples=20, deadline=None)
@given(law=laws, income=st.integers(0, 10**15))
def test_the_trace_writer_keeps_braces_and_quotes_in_the_note(law, income: int) -> None:
    calculator, _ = law
    year_law = YearLaw.of(calculator, 2025)
    figures = (income, *year_law.calculate(income))
    with patch.object(fast, "_", lambda text: 'a {{"note"}} with "quotes", {{[braces]}} and \\ ' + text):
        assert json.loads(year_law.trace_writer()(*figures)) == year_law.trace(*figures)
