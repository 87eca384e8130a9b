"""A return as the services take it: a domain value, whoever files it (the API, the seed, an objection's
decision, a CLI command or a web page), never an HTTP request body. Amounts are minor units of `currency`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .vat import Line


@dataclass(frozen=True, slots=True)
class IncomeReturn:
    """A taxpayer's income for a fiscal year (which starts on the country's fiscal_year_start)."""

    tin: str
    year: int
    income: int
    currency: str


@dataclass(frozen=True, slots=True)
class VatDeclaration:
    """What a VAT return declares for its period: sales and purchases by category, VAT excluded."""

    currency: str
    sales: tuple[Line, ...] = ()
    purchases: tuple[Line, ...] = ()

    @property
    def turnover(self) -> int:
        return sum(line.amount for line in self.sales)

    def as_json(self) -> dict[str, Any]:
        """The lines as stored with the return, which its assessment reads back."""
        return {
            "sales": [{"category": line.category, "amount": line.amount} for line in self.sales],
            "purchases": [{"category": line.category, "amount": line.amount} for line in self.purchases],
        }


@dataclass(frozen=True, slots=True)
class VatReturn:
    """A taxpayer's VAT declaration for one period of the VAT law (2026-03, 2026-Q1 or 2026)."""

    tin: str
    period: str
    declaration: VatDeclaration
