"""The whole tax law of a deployment, built once per profile: income tax, VAT, deadlines, penalties.

`TaxRules.for_country` caches the converted law (minor units, sorted dated values),
so a bulk job converts the profile once, not once per return.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

from ...core.calendars import add_months as add_calendar_months
from ...core.country import LoadedCountry
from ...core.errors import Unprocessable
from ...core.i18n import N_, _
from ...core.money import Rounding, to_minor
from .config import TaxCountry
from .law import Dated, IncomeTaxLaw, TraceStep, _exact, _percent, in_force
from .vat import VatLaw, VatNotConfigured

SECTION = "tax"
_CACHE: dict[tuple[int, str], TaxRules] = {}

ASSESSMENT_DAY = N_("its date")  # an objection window is read on the day of the assessment
NOT_A_PERIOD = {
    "month": N_("'{period}' is not a VAT month here; write it like '{example}'"),
    "quarter": N_("'{period}' is not a VAT quarter here; write it like '{example}'"),
    "year": N_("'{period}' is not a VAT year here; write it like '{example}'"),
}
# The late-filing note, by how the fixed amount and the share of the tax combine.
LATE_FILING = {
    "greater": N_(
        "filed {filed_on}, due {deadline}: late; tax.penalties.late_filing since {since}: "
        "greater of fixed {fixed} and {rate} of tax {tax} ({share}): {amount}"
    ),
    "sum": N_(
        "filed {filed_on}, due {deadline}: late; tax.penalties.late_filing since {since}: "
        "sum of fixed {fixed} and {rate} of tax {tax} ({share}): {amount}"
    ),
}


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the end of a shorter month (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True, slots=True)
class InterestRule:
    """A dated interest rule: `rate` per `unit` (month, week, or a yearly rate charged per day)."""

    unit: str
    rate: Decimal
    steps: tuple[tuple[int, Decimal], ...] = ()  # (after_months, rate), increasing

    def per_period(self, due: date, start: date) -> Decimal:
        """The interest on one unit of tax for the period starting `start`, of a debt due on `due`."""
        rate = self.rate
        for after_months, later in self.steps:
            if start >= add_months(due, after_months):
                rate = later
        return rate / 365 if self.unit == "day" else rate


def period_start(due: date, index: int, unit: str) -> date:
    """The start of the `index`-th period of delay (0: the due date itself) in months, weeks or days."""
    if unit == "month":
        return add_months(due, index)
    return due + timedelta(days=index * (7 if unit == "week" else 1))


@dataclass(frozen=True, slots=True)
class LateFilingRule:
    fixed: int
    rate: Decimal
    combine: str


@dataclass(frozen=True)
class Penalty:
    amount: int
    trace: list[TraceStep]


@dataclass(frozen=True)
class Period:
    """A return's period: a fiscal year for income tax, a month, quarter or year for VAT."""

    label: str
    start: date
    end: date  # last day, inclusive
    year: int


@dataclass(frozen=True)
class TaxRules:
    section: TaxCountry
    currency: str
    income: IncomeTaxLaw
    vat: VatLaw | None
    late_filing: tuple[Dated, ...]
    interest_rates: tuple[Dated, ...]
    penalty_rounding: Rounding
    objection_days: tuple[Dated, ...]

    @classmethod
    def for_country(cls, country: LoadedCountry) -> TaxRules:
        section: TaxCountry = country.section(SECTION)
        currency = country.profile.currency
        key = (id(section), currency)
        cached = _CACHE.get(key)
        if cached is None or cached.section is not section:
            cached = _CACHE[key] = cls.build(section, currency)
        return cached

    @classmethod
    def build(cls, section: TaxCountry, currency: str) -> TaxRules:
        income = IncomeTaxLaw.from_country(section, currency)  # refuses what the currency cannot hold
        penalties = section.penalties
        return cls(
            section=section,
            currency=currency,
            income=income,
            vat=VatLaw.from_section(section.vat, currency) if section.vat is not None else None,
            late_filing=tuple(
                Dated(p.since, LateFilingRule(to_minor(p.fixed, currency), p.rate, p.combine))
                for p in sorted(penalties.late_filing, key=lambda p: p.since)
            ),
            interest_rates=tuple(
                Dated(i.since, InterestRule(i.unit, i.rate, tuple((s.after_months, s.rate) for s in i.steps)))
                for i in sorted(penalties.interest, key=lambda i: i.since)
            ),
            penalty_rounding=Rounding(penalties.rounding.mode, to_minor(penalties.rounding.quantum, currency)),
            objection_days=tuple(
                Dated(w.since, w.days) for w in sorted(section.objections.window_days, key=lambda w: w.since)
            ),
        )

    def vat_law(self) -> VatLaw:
        if self.vat is None:
            raise VatNotConfigured
        return self.vat

    # Periods and deadlines -------------------------------------------------------------

    def income_period(self, year: int) -> Period:
        start = self.income.year_start(year)
        return Period(str(year), start, self.income.year_start(year + 1) - timedelta(days=1), year)

    def vat_period(self, label: str) -> Period:
        """Parse `2024-03` (month), `2024-Q1` (quarter) or `2024` (year), as the law's VAT period says."""
        vat = self.vat_law()
        patterns = {"month": r"(\d{4})-(0[1-9]|1[0-2])", "quarter": r"(\d{4})-Q([1-4])", "year": r"(\d{4})"}
        examples = {"month": "2024-03", "quarter": "2024-Q1", "year": "2024"}
        match = re.fullmatch(patterns[vat.period], label)
        if match is None:
            raise Unprocessable(
                "period: " + _(NOT_A_PERIOD[vat.period]).format(period=label, example=examples[vat.period])
            )
        year = int(match.group(1))
        if not 1900 <= year <= 2200:
            raise Unprocessable("period: " + _("year {year} is outside 1900-2200").format(year=year))
        if vat.period == "month":
            start, months = date(year, int(match.group(2)), 1), 1
        elif vat.period == "quarter":
            start, months = date(year, 3 * int(match.group(2)) - 2, 1), 3
        else:
            start, months = date(year, 1, 1), 12
        return Period(label, start, add_months(start, months) - timedelta(days=1), year)

    def income_deadline(self, year: int) -> date:
        """When fiscal `year`'s return and tax are due (tax.filing_deadline)."""
        year_end = self.income_period(year).end
        rule = self.section.filing_deadline
        if rule.months_after_year_end is not None:
            months = rule.months_after_year_end
            return add_calendar_months(year_end + timedelta(days=1), months, self.income.calendar) - timedelta(days=1)
        assert rule.month_day is not None
        month, day = (int(part) for part in rule.month_day.split("-"))
        candidate = date(year_end.year, month, day)
        return candidate if candidate > year_end else date(year_end.year + 1, month, day)

    def vat_deadline(self, period: Period) -> date:
        return period.end + timedelta(days=self.vat_law().deadline_days)

    def objection_deadline(self, assessed_on: date) -> tuple[date, int]:
        days = in_force(
            self.objection_days, assessed_on, "tax.objections.window_days", field="assessment", when=ASSESSMENT_DAY
        ).value
        return assessed_on + timedelta(days=days), days

    # Penalties and interest ------------------------------------------------------------

    def late_filing_penalty(self, *, tax: int, filed_on: date, deadline: date) -> Penalty:
        """The penalty for filing on `filed_on` a return due on `deadline` (0 when on time or none configured)."""
        if filed_on <= deadline:
            note = _("filed {filed_on}, due {deadline}: on time").format(filed_on=filed_on, deadline=deadline)
            return Penalty(0, [TraceStep("late_filing", note, {"amount": 0})])
        index = [rule.since for rule in self.late_filing]
        applicable = [rule for rule, since in zip(self.late_filing, index, strict=True) if since <= deadline]
        if not applicable:
            note = _("filed {filed_on}, due {deadline}: late, but no tax.penalties.late_filing is in force").format(
                filed_on=filed_on, deadline=deadline
            )
            return Penalty(0, [TraceStep("late_filing", note, {"amount": 0})])
        chosen = applicable[-1]
        rule: LateFilingRule = chosen.value
        with localcontext() as context:
            context.prec = 60
            share = max(0, tax) * rule.rate
            exact = max(Decimal(rule.fixed), share) if rule.combine == "greater" else rule.fixed + share
        amount = self.penalty_rounding.apply(exact)
        note = _(LATE_FILING[rule.combine]).format(
            filed_on=filed_on,
            deadline=deadline,
            since=chosen.since,
            fixed=rule.fixed,
            rate=_percent(rule.rate),
            tax=tax,
            share=_exact(share),
            amount=amount,
        )
        return Penalty(amount, [TraceStep("late_filing", note, {"amount": amount, "exact": _exact(exact)})])

    def interest(
        self, *, debts: Sequence[tuple[date, int]], payments: Sequence[tuple[date, int]], as_of: date
    ) -> tuple[int, list[dict[str, Any]]]:
        """Simple interest per period (a month or part of one, a week or part of one, or a day) on unpaid tax.

        Payments settle the oldest debt first. Each period (from the due date, in steps of
        the rule's unit) that a part of a debt is still unpaid costs that part times the rate
        in force at the start of that period, the later `steps` rate once the delay has
        lasted that many months; a yearly rate is charged 1/365 a day. Summed exactly,
        rounded once.
        """
        if not self.interest_rates:
            return 0, []
        unit = self.interest_rates[0].value.unit  # one unit for every entry (config checks it)
        remaining = [[due, amount] for due, amount in sorted(debts) if amount > 0]
        pieces: list[tuple[date, int, date]] = []  # due, amount, settled on
        for paid_on, amount in sorted(payments):
            left = amount
            while left > 0 and remaining:
                due, owed = remaining[0]
                used = min(owed, left)
                pieces.append((due, used, paid_on))
                left -= used
                remaining[0][1] -= used
                if remaining[0][1] == 0:
                    remaining.pop(0)
        pieces.extend((due, owed, as_of) for due, owed in remaining)
        exact = Decimal(0)
        detail = []
        with localcontext() as context:
            context.prec = 60  # a yearly rate / 365 is inexact: 60 digits, rounded once at the end
            for due, amount, settled in pieces:
                periods = 0
                piece = Decimal(0)
                while (start := period_start(due, periods, unit)) < min(settled, as_of):
                    rules = [r for r in self.interest_rates if r.since <= start]
                    if rules:
                        piece += amount * rules[-1].value.per_period(due, start)
                    periods += 1
                if periods:
                    detail.append(
                        {
                            "due": due.isoformat(),
                            "amount": amount,
                            {"month": "months", "week": "weeks", "day": "days"}[unit]: periods,
                            "interest": _exact(piece),
                        }
                    )
                    exact += piece
        return self.penalty_rounding.apply(exact), detail
