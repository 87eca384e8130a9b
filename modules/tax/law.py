"""Income-tax law as data: pick the values in force for a fiscal year, apply the scale, keep a trace.

All arithmetic is exact: money is held in integer minor units, the scale is applied
in Decimal with inexact results trapped, and only the configured rounding rules
turn exact amounts back into whole minor units (base rounding on taxable income
before the scale, tax rounding on the tax after relief).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, Inexact, localcontext
from enum import StrEnum
from typing import Any

from ...core.calendars import fiscal_year, fiscal_year_of
from ...core.errors import Problem, Unprocessable
from ...core.i18n import N_, _
from ...core.money import Rounding, major_text, to_minor
from .config import DatedAmount, RoundingRule, TaxCountry, location

FISCAL_YEAR_START = N_("start of that fiscal year")  # which day a fiscal year's law is read on


class LawNotInForce(Unprocessable):
    """No value of the law is dated on or before the start of the requested fiscal year."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, kind="tax-law-not-in-force")


class Provision(StrEnum):
    """Whether country.yml gives an income-tax law."""

    GIVEN = "given"
    NOT_GIVEN = "not_given"  # no `tax.income_tax`: nobody has entered the law yet
    NOT_LEVIED = "not_levied"  # `tax.income_tax: none`: the country levies no personal income tax


NOT_GIVEN_DETAIL = N_(
    "country.yml gives no income-tax law (tax.income_tax), so no income tax is assessed; add the country's "
    "scale, allowance, relief and rounding with their published source, then restart the service"
)
NOT_LEVIED_DETAIL = N_("this country levies no personal income tax (tax.income_tax: none in country.yml)")


def missing_law_detail(provision: Provision) -> str:
    """What to tell people when `provision` is not GIVEN, translated."""
    return _(NOT_LEVIED_DETAIL if provision is Provision.NOT_LEVIED else NOT_GIVEN_DETAIL)


class IncomeTaxLawMissing(Unprocessable):
    """Assessment asked for where country.yml gives no income-tax law (or says none is levied)."""

    def __init__(self, provision: Provision) -> None:
        super().__init__(missing_law_detail(provision), kind="tax-law-missing")
        self.provision = provision


class TaxLawMisconfigured(Problem):
    """The `tax:` section cannot be applied to the profile's currency (a deployment mistake)."""

    status = 500

    def __init__(self, problems: list[str]) -> None:
        super().__init__("country.yml: " + "; ".join(problems), kind="tax-law-misconfigured")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Bracket:
    threshold: int  # minor units
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Dated:
    since: date
    value: Any


@dataclass(frozen=True, slots=True)
class Stage:
    """A rounding rule with the figures it was configured with, for the trace."""

    rule: Rounding
    quantum_major: Decimal


@dataclass(frozen=True)
class TraceStep:
    step: str
    note: str
    values: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "note": self.note, **self.values}


@dataclass(frozen=True)
class Calculation:
    currency: str
    year: int
    income: int
    taxable: int
    tax_due: int
    trace: list[TraceStep]

    def trace_dicts(self) -> list[dict[str, Any]]:
        return [step.as_dict() for step in self.trace]


@dataclass(frozen=True)
class IncomeTaxLaw:
    currency: str
    fiscal_year_start: tuple[int, int]
    scale: tuple[Dated, ...]
    allowance: tuple[Dated, ...]
    relief: tuple[Dated, ...]
    base_rounding: Stage | None  # None only without a law: nothing is ever rounded then
    tax_rounding: Stage | None
    calendar: str = "gregorian"  # of fiscal_year_start
    named_by: str = "start"  # a fiscal year is numbered by the year it starts or ends in
    provision: Provision = Provision.GIVEN

    @classmethod
    def from_country(cls, section: TaxCountry, currency: str) -> IncomeTaxLaw:
        """Convert the validated section to minor units of `currency`, refusing what it cannot hold."""
        problems = [f"{location(loc)}: {message}" for loc, message in section.currency_problems(currency)]
        if problems:
            raise TaxLawMisconfigured(problems)
        month, day = (int(part) for part in section.fiscal_year_start.split("-"))
        year_fields = {
            "currency": currency,
            "fiscal_year_start": (month, day),
            "calendar": section.fiscal_calendar,
            "named_by": section.fiscal_year_named_by,
        }
        law = section.income_tax
        if law is None:
            provision = Provision.NOT_LEVIED if section.levies_no_income_tax else Provision.NOT_GIVEN
            return cls(
                **year_fields,
                scale=(),
                allowance=(),
                relief=(),
                base_rounding=None,
                tax_rounding=None,
                provision=provision,
            )
        return cls(
            **year_fields,
            scale=tuple(
                Dated(s.since, tuple(Bracket(to_minor(b.threshold, currency), b.rate) for b in s.brackets))
                for s in sorted(law.scale, key=lambda s: s.since)
            ),
            allowance=_dated_amounts(law.allowance, currency),
            relief=_dated_amounts(law.relief, currency),
            base_rounding=_stage(law.rounding.base, currency),
            tax_rounding=_stage(law.rounding.tax, currency),
        )

    def year_start(self, year: int) -> date:
        return fiscal_year(year, calendar=self.calendar, start=self.fiscal_year_start, named_by=self.named_by).start

    def year_of(self, day: date) -> int:
        """The number of the fiscal year that contains `day`."""
        return fiscal_year_of(day, calendar=self.calendar, start=self.fiscal_year_start, named_by=self.named_by).label

    def scale_in_force(self, year: int) -> tuple[Bracket, ...]:
        """The brackets that apply to fiscal `year` (LawNotInForce when none does)."""
        return self.scale_on(self.year_start(year)).value

    def scale_on(self, day: date) -> Dated:
        """The scale in force on `day`: IncomeTaxLawMissing without a law, LawNotInForce before the first."""
        if self.provision is not Provision.GIVEN:
            raise IncomeTaxLawMissing(self.provision)
        return _in_force(self.scale, day, "scale")

    def calculate(self, *, income: int, year: int) -> Calculation:
        """Tax due on `income` (minor units) for fiscal `year`, with every step that produced it."""
        if isinstance(income, bool) or not isinstance(income, int) or income < 0:
            raise Unprocessable(
                "income: "
                + _("must be a whole, non-negative number of minor units, got {income}").format(income=repr(income))
            )
        start = self.year_start(year)
        scale = self.scale_on(start)
        assert self.base_rounding is not None and self.tax_rounding is not None  # a law gives both
        allowance = _in_force(self.allowance, start, "allowance") if self.allowance else None
        relief = _in_force(self.relief, start, "relief") if self.relief else None
        trace = [
            TraceStep(
                "law",
                _("fiscal year {year} starts on {start}: the values in force on that day apply").format(
                    year=year, start=start
                ),
                {"year": year, "in_force_on": start.isoformat()},
            ),
            TraceStep("income", _("income {amount}").format(amount=self._major(income)), {"amount": income}),
        ]

        allowance_amount = allowance.value if allowance else 0
        trace.append(
            TraceStep(
                "allowance",
                self._allowance_note(allowance_amount, allowance),
                {"amount": allowance_amount, "since": allowance.since.isoformat() if allowance else None},
            )
        )
        exact_base = max(0, income - allowance_amount)
        taxable = self.base_rounding.rule.apply(exact_base)
        base_message = _("taxable income {before} rounded {mode} to a multiple of {quantum} {currency}: {after}")
        trace.append(self._rounding_step("base_rounding", base_message, self.base_rounding, exact_base, taxable))

        with localcontext() as context:
            context.prec = 60
            context.traps[Inexact] = True  # any rounding here would be a bug: fail loudly
            scale_tax = Decimal(0)
            trace.append(
                TraceStep(
                    "scale",
                    _("progressive scale (tax.income_tax.scale since {since})").format(since=scale.since),
                    {"since": scale.since.isoformat()},
                )
            )
            brackets: tuple[Bracket, ...] = scale.value
            for index, bracket in enumerate(brackets):
                if taxable <= bracket.threshold:
                    break
                upper = brackets[index + 1].threshold if index + 1 < len(brackets) else None
                top = taxable if upper is None else min(taxable, upper)
                portion = top - bracket.threshold
                portion_tax = portion * bracket.rate
                scale_tax += portion_tax
                trace.append(
                    TraceStep(
                        "bracket",
                        self._bracket_note(bracket, upper, portion, portion_tax),
                        {
                            "from": bracket.threshold,
                            "to": upper,
                            "rate": str(bracket.rate),
                            "slice": portion,
                            "tax": _exact(portion_tax),
                        },
                    )
                )
            relief_amount = relief.value if relief else 0
            after_relief = max(Decimal(0), scale_tax - relief_amount)
        trace.append(
            TraceStep(
                "relief",
                self._relief_note(relief_amount, relief, scale_tax, after_relief),
                {
                    "amount": relief_amount,
                    "since": relief.since.isoformat() if relief else None,
                    "tax_before": _exact(scale_tax),
                    "tax_after": _exact(after_relief),
                },
            )
        )
        tax_due = self.tax_rounding.rule.apply(after_relief)
        tax_message = _("tax {before} rounded {mode} to a multiple of {quantum} {currency}: {after}")
        trace.append(self._rounding_step("tax_rounding", tax_message, self.tax_rounding, after_relief, tax_due))
        trace.append(
            TraceStep("tax_due", _("tax due {amount}").format(amount=self._major(tax_due)), {"amount": tax_due})
        )
        return Calculation(
            currency=self.currency, year=year, income=income, taxable=taxable, tax_due=tax_due, trace=trace
        )

    def _allowance_note(self, amount: int, allowance: Dated | None) -> str:
        if allowance is None:
            return _("allowance {amount} (none configured)").format(amount=self._major(amount))
        return _("allowance {amount} (tax.income_tax.allowance since {since})").format(
            amount=self._major(amount), since=allowance.since
        )

    def _bracket_note(self, bracket: Bracket, upper: int | None, portion: int, portion_tax: Decimal) -> str:
        figures = {
            "lower": self._major(bracket.threshold),
            "rate": _percent(bracket.rate),
            "portion": self._major(portion),
            "tax": self._major(portion_tax),
        }
        if upper is None:
            return _("{lower} to above at {rate}: {portion} taxed {tax}").format(**figures)
        return _("{lower} to {upper} at {rate}: {portion} taxed {tax}").format(upper=self._major(upper), **figures)

    def _relief_note(self, amount: int, relief: Dated | None, before: Decimal, after: Decimal) -> str:
        figures = {"amount": self._major(amount), "before": self._major(before), "after": self._major(after)}
        if relief is None:
            return _("relief {amount} (none configured): tax {before} becomes {after}").format(**figures)
        return _("relief {amount} (tax.income_tax.relief since {since}): tax {before} becomes {after}").format(
            since=relief.since, **figures
        )

    def _rounding_step(self, step: str, message: str, stage: Stage, before: Decimal | int, after: int) -> TraceStep:
        """A rounding step; `message` is translated, with {before}, {mode}, {quantum}, {currency} and {after}."""
        mode = stage.rule.mode.value
        return TraceStep(
            step,
            message.format(
                before=self._major(before),
                mode=mode,
                quantum=stage.quantum_major,
                currency=self.currency,
                after=self._major(after),
            ),
            {"mode": mode, "quantum": stage.rule.quantum, "before": _exact(before), "after": after},
        )

    def _major(self, minor: Decimal | int) -> str:
        return self.format_amount(minor)

    def format_amount(self, minor: Decimal | int) -> str:
        """`minor` units as major units with the currency's decimals (more only when the amount has them)."""
        return f"{major_text(minor, self.currency, grouped=True)} {self.currency}"


def _dated_amounts(values: list[DatedAmount], currency: str) -> tuple[Dated, ...]:
    return tuple(Dated(v.since, to_minor(v.amount, currency)) for v in sorted(values, key=lambda v: v.since))


def _stage(rule: RoundingRule, currency: str) -> Stage:
    return Stage(rule=Rounding(rule.mode, to_minor(rule.quantum, currency)), quantum_major=rule.quantum)


def _in_force(values: tuple[Dated, ...], day: date, name: str) -> Dated:
    return in_force(values, day, f"tax.income_tax.{name}", field="year", when=FISCAL_YEAR_START)


def in_force(values: tuple[Dated, ...], day: date, key: str, *, field: str, when: str) -> Dated:
    """The value with the latest `since` on or before `day`; LawNotInForce naming `field` and `key` otherwise.

    `when` says which day `day` is, a message marked with N_ (translated here).
    """
    index = bisect_right([value.since for value in values], day)
    if index == 0:
        raise LawNotInForce(
            f"{field}: "
            + _("no {key} is in force on {day} ({when}); the earliest applies from {since}").format(
                key=key, day=day, when=_(when), since=values[0].since
            )
        )
    return values[index - 1]


def _exact(value: Decimal | int) -> str:
    """An exact amount in minor units as text (it may have a fraction before rounding)."""
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _percent(rate: Decimal) -> str:
    return _exact(rate * 100) + "%"
