"""The income-tax calculation in plain integers, for bulk assessment: one law per year, cached.

It gives the same figures as `IncomeTaxLaw.calculate` (a property test holds them
equal) without building the step-by-step trace: rates become integers over a common
power-of-ten denominator, so every sum is an exact integer and the only rounding is
the configured one, done by integer division (core's `Rounding.apply_ratio`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...core.bulk import dump_json
from ...core.i18n import _
from ...core.money import Rounding
from .law import IncomeTaxLaw, _in_force


@dataclass(frozen=True)
class YearLaw:
    """The income-tax law of one fiscal year, in integers."""

    year: int
    in_force_on: str
    scale_since: str
    allowance: int
    allowance_since: str | None
    relief: int
    relief_since: str | None
    thresholds: tuple[int, ...]
    numerators: tuple[int, ...]  # rate x denominator
    denominator: int
    base: Rounding
    tax: Rounding

    @classmethod
    def of(cls, law: IncomeTaxLaw, year: int) -> YearLaw:
        start = law.year_start(year)
        scale = law.scale_on(start)
        assert law.base_rounding is not None and law.tax_rounding is not None  # a law gives both
        allowance = _in_force(law.allowance, start, "allowance") if law.allowance else None
        relief = _in_force(law.relief, start, "relief") if law.relief else None
        rates = [bracket.rate for bracket in scale.value]
        places = max(max(0, -int(rate.as_tuple().exponent)) for rate in rates)
        denominator = 10**places
        return cls(
            year=year,
            in_force_on=start.isoformat(),
            scale_since=scale.since.isoformat(),
            allowance=allowance.value if allowance else 0,
            allowance_since=allowance.since.isoformat() if allowance else None,
            relief=relief.value if relief else 0,
            relief_since=relief.since.isoformat() if relief else None,
            thresholds=tuple(bracket.threshold for bracket in scale.value),
            numerators=tuple(int(rate * denominator) for rate in rates),
            denominator=denominator,
            base=law.base_rounding.rule,
            tax=law.tax_rounding.rule,
        )

    def calculate(self, income: int) -> tuple[int, int, int]:
        """(taxable, tax due, exact tax after relief x denominator) for `income` in minor units."""
        taxable = self.base.apply_ratio(max(0, income - self.allowance))
        scaled = 0
        thresholds = self.thresholds
        last = len(thresholds) - 1
        for index, threshold in enumerate(thresholds):
            if taxable <= threshold:
                break
            top = taxable if index == last else min(taxable, thresholds[index + 1])
            scaled += (top - threshold) * self.numerators[index]
        after_relief = max(0, scaled - self.relief * self.denominator)
        return taxable, self.tax.apply_ratio(after_relief, self.denominator), after_relief

    def trace(self, income: int, taxable: int, tax_due: int, exact: int) -> list[dict[str, Any]]:
        """A one-step trace of a bulk assessment: the law's dates and the figures (`tax calc` shows every step)."""
        return self._trace(income, taxable, tax_due, self.exact_text(exact))

    def exact_text(self, exact: int) -> str:
        """The tax before rounding, as a decimal string (exact is that tax x the denominator)."""
        return str(Decimal(exact) / self.denominator)

    def trace_writer(self) -> Callable[[int, int, int, int], str]:
        """`trace(...)` as JSON text, for a million rows: the year's constant part is encoded once.

        Made per batch, not per year: the note is in the current locale.
        """
        # Encode a trace holding NUL-marked stand-ins, then turn each stand-in into a format field.
        sample = self._trace("\0income", "\0taxable", "\0amount", "\0exact")
        template = dump_json(sample).replace("{", "{{").replace("}", "}}")
        for number in ("income", "taxable", "amount"):
            template = template.replace(f'"\\u0000{number}"', "{" + number + "}")
        template = template.replace('"\\u0000exact"', '"{exact}"')
        fill = template.format
        exact_text = self.exact_text

        def write(income: int, taxable: int, tax_due: int, exact: int) -> str:
            return fill(income=income, taxable=taxable, amount=tax_due, exact=exact_text(exact))

        return write

    def _trace(self, income: Any, taxable: Any, tax_due: Any, exact_text: str) -> list[dict[str, Any]]:
        return [
            {
                "step": "bulk",
                "note": _("assessed in bulk with tax.income_tax in force on {day}; `tax calc` shows every step").format(
                    day=self.in_force_on
                ),
                "in_force_on": self.in_force_on,
                "scale_since": self.scale_since,
                "allowance": self.allowance,
                "allowance_since": self.allowance_since,
                "relief": self.relief,
                "relief_since": self.relief_since,
                "income": income,
                "taxable": taxable,
                "tax_before_rounding": exact_text,
                "amount": tax_due,
            }
        ]
