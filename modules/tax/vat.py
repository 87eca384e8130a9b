"""VAT law as data: output VAT on sales minus input VAT on purchases, exempt categories excluded.

Each line of a return is an amount (minor units, VAT excluded) in a category; a
category is exempt (no VAT either way), has a reduced rate, or takes the standard
rate. Output and input VAT are each summed exactly and rounded once with the
configured rule; the net is what the business owes (negative: a credit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, Inexact, localcontext
from typing import Any

from ...core.errors import Unprocessable
from ...core.i18n import N_, _
from ...core.money import Rounding, to_minor
from .config import DatedRate, Vat
from .law import Dated, TraceStep, _exact, _percent, in_force

WHEN = N_("start of that VAT period")


class VatNotConfigured(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            _("this deployment has no VAT law (no tax.vat in country.yml); VAT returns cannot be filed"),
            kind="vat-not-configured",
            field="kind",
        )


@dataclass(frozen=True, slots=True)
class Side:
    """Sales give output VAT, purchases input VAT; `rounded` is the note of its rounding step."""

    name: str
    rounded: str


OUTPUT = Side("output", N_("output VAT {before} rounded {mode} to {after}"))
INPUT = Side("input", N_("input VAT {before} rounded {mode} to {after}"))


@dataclass(frozen=True, slots=True)
class Line:
    category: str
    amount: int  # minor units, VAT excluded


@dataclass(frozen=True)
class VatCalculation:
    output_vat: int
    input_vat: int
    net: int
    trace: list[TraceStep]

    def trace_dicts(self) -> list[dict[str, Any]]:
        return [step.as_dict() for step in self.trace]


@dataclass(frozen=True)
class VatLaw:
    currency: str
    standard: tuple[Dated, ...]
    reduced: dict[str, tuple[Dated, ...]]
    exempt: frozenset[str]
    period: str
    deadline_days: int
    rounding: Rounding

    @classmethod
    def from_section(cls, vat: Vat, currency: str) -> VatLaw:
        return cls(
            currency=currency,
            standard=_dated_rates(vat.rate),
            reduced={category: _dated_rates(rates) for category, rates in vat.reduced.items()},
            exempt=frozenset(vat.exempt),
            period=vat.period,
            deadline_days=vat.filing_deadline_days,
            rounding=Rounding(vat.rounding.mode, to_minor(vat.rounding.quantum, currency)),
        )

    def standard_rate(self, day: date) -> Decimal:
        """The standard rate on `day` (LawNotInForce naming the period when none is)."""
        return in_force(self.standard, day, "tax.vat.rate", field="period", when=WHEN).value

    def rate_for(self, category: str, day: date) -> tuple[Decimal, str] | None:
        """The rate of `category` on `day` and where it comes from; None for an exempt category."""
        if category in self.exempt:
            return None
        if category in self.reduced:
            found = in_force(self.reduced[category], day, f"tax.vat.reduced.{category}", field="period", when=WHEN)
            return found.value, _("{key} since {since}").format(key=f"tax.vat.reduced.{category}", since=found.since)
        found = in_force(self.standard, day, "tax.vat.rate", field="period", when=WHEN)
        return found.value, _("{key} since {since}").format(key="tax.vat.rate", since=found.since)

    def calculate(self, *, period_start: date, sales: Sequence[Line], purchases: Sequence[Line]) -> VatCalculation:
        trace = [
            TraceStep(
                "law",
                _("VAT period starting {start}: the rates in force on that day apply").format(start=period_start),
                {"in_force_on": period_start.isoformat()},
            )
        ]
        totals = {}
        with localcontext() as context:
            context.prec = 60
            context.traps[Inexact] = True
            for side, lines in ((OUTPUT, sales), (INPUT, purchases)):
                exact = Decimal(0)
                for line in lines:
                    found = self.rate_for(line.category, period_start)
                    if found is None:
                        trace.append(
                            TraceStep(
                                f"{side.name}_line",
                                _("{category} {amount}: exempt (tax.vat.exempt), no VAT").format(
                                    category=line.category, amount=line.amount
                                ),
                                {"category": line.category, "amount": line.amount, "rate": None, "vat": "0"},
                            )
                        )
                        continue
                    rate, source = found
                    vat = line.amount * rate
                    exact += vat
                    trace.append(
                        TraceStep(
                            f"{side.name}_line",
                            _("{category} {amount} at {rate} ({source}): {vat}").format(
                                category=line.category,
                                amount=line.amount,
                                rate=_percent(rate),
                                source=source,
                                vat=_exact(vat),
                            ),
                            {"category": line.category, "amount": line.amount, "rate": str(rate), "vat": _exact(vat)},
                        )
                    )
                with localcontext() as rounding_context:
                    rounding_context.traps[Inexact] = False  # rounding is inexact by design
                    rounded = self.rounding.apply(exact)
                trace.append(
                    TraceStep(
                        f"{side.name}_vat",
                        _(side.rounded).format(before=_exact(exact), mode=self.rounding.mode.value, after=rounded),
                        {"before": _exact(exact), "after": rounded},
                    )
                )
                totals[side.name] = rounded
        net = totals["output"] - totals["input"]
        if net < 0:
            note = _("output VAT {output} minus input VAT {input}: {net} (a credit)")
        else:
            note = _("output VAT {output} minus input VAT {input}: {net}")
        trace.append(
            TraceStep("net_vat", note.format(output=totals["output"], input=totals["input"], net=net), {"amount": net})
        )
        return VatCalculation(output_vat=totals["output"], input_vat=totals["input"], net=net, trace=trace)


def _dated_rates(values: list[DatedRate]) -> tuple[Dated, ...]:
    return tuple(Dated(v.since, v.rate) for v in sorted(values, key=lambda v: v.since))
