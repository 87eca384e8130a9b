"""The module's section of country.yml (`tax:`): the income-tax law as dated data.

Amounts and thresholds are strings in major units, rates decimal-fraction strings,
so no value ever passes through a float. Every mistake is refused at start-up with
the key that holds it (`tax.income_tax.scale[0].brackets[2].from: ...`). Checks that
need the currency (a quantum finer than the minor unit, an amount with too many
decimals) run when the law is built for a currency: see `TaxCountry.currency_problems`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ...core.money import MoneyError, RoundingMode, minor_units, to_minor

ROUNDING_MODES = ", ".join(mode.value for mode in RoundingMode)


def _exact_decimal(value: Any) -> Decimal:
    """Quoted decimal text (or a whole number) to Decimal; floats are refused, they are not exact."""
    if isinstance(value, bool | float):
        raise ValueError(f'{value!r} must be written as a quoted decimal string such as "0.25" or "288000"')
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if number.is_finite():
            return number
    raise ValueError(f"{value!r} is not a decimal number")


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal)]


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"{value} is negative; amounts and thresholds are zero or more")
    return value


def _fraction(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError(f'{value} is outside [0, 1]; rates are decimal fractions (25% is "0.25")')
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f'{value} must be above zero (e.g. "1" or "0.01")')
    return value


def _rounding_mode(value: Any) -> RoundingMode:
    try:
        return RoundingMode(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rounding mode; allowed: {ROUNDING_MODES}") from None


def _month_day(value: Any) -> str:
    text = str(value)
    try:
        month, day = (int(part) for part in text.split("-"))
        date(2001, month, day)  # a common year: 02-29 would not start every year
    except ValueError:
        raise ValueError(f'{value!r} is not a month-day such as "01-01" or "07-01"') from None
    if len(text) != 5:
        raise ValueError(f'{value!r} must be written MM-DD, such as "07-01"')
    return text


Threshold = Annotated[ExactDecimal, AfterValidator(_non_negative)]
Rate = Annotated[ExactDecimal, AfterValidator(_fraction)]
Quantum = Annotated[ExactDecimal, AfterValidator(_positive)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bracket(_Strict):
    """One band of a marginal scale: `rate` applies to income from `from` up to the next threshold."""

    threshold: Threshold = Field(alias="from", description="major units")
    rate: Rate


class DatedScale(_Strict):
    since: date
    brackets: list[Bracket] = Field(min_length=1)

    @model_validator(mode="after")
    def _thresholds_increase(self) -> DatedScale:
        problems = []
        if self.brackets[0].threshold != 0:
            problems.append(
                (("brackets", 0, "from"), f'the first bracket must start from "0", not {self.brackets[0].threshold}', 0)
            )
        for index, (previous, bracket) in enumerate(pairwise(self.brackets), start=1):
            if bracket.threshold <= previous.threshold:
                problems.append(
                    (
                        ("brackets", index, "from"),
                        f"{bracket.threshold} is not above the previous threshold {previous.threshold}; "
                        "thresholds must increase",
                        str(bracket.threshold),
                    )
                )
        _raise(self, problems)
        return self


class DatedAmount(_Strict):
    since: date
    amount: Threshold = Field(description="major units")


class RoundingRule(_Strict):
    mode: Annotated[RoundingMode, BeforeValidator(_rounding_mode)]
    quantum: Quantum = Field(default=Decimal(1), description='major units, e.g. "100" or "0.01"')


class Roundings(_Strict):
    base: RoundingRule = Field(description="applied to taxable income (income minus allowance) before the scale")
    tax: RoundingRule = Field(description="applied to the tax after relief")


class IncomeTax(_Strict):
    scale: list[DatedScale] = Field(min_length=1)
    allowance: list[DatedAmount] = Field(default_factory=list, description="deducted from income; none means 0")
    relief: list[DatedAmount] = Field(default_factory=list, description="credited against tax; none means 0")
    rounding: Roundings

    @model_validator(mode="after")
    def _one_value_per_date(self) -> IncomeTax:
        problems = []
        for name in ("scale", "allowance", "relief"):
            seen: dict[date, int] = {}
            for index, value in enumerate(getattr(self, name)):
                if value.since in seen:
                    problems.append(
                        (
                            (name, index, "since"),
                            f"{value.since} is already the since date of {name}[{seen[value.since]}]; "
                            "each dated value needs its own date",
                            value.since.isoformat(),
                        )
                    )
                seen.setdefault(value.since, index)
        _raise(self, problems)
        return self


class TaxCountry(_Strict):
    """`tax:` in country.yml."""

    fiscal_year_start: Annotated[str, BeforeValidator(_month_day)] = Field(
        default="01-01", description="MM-DD on which fiscal year N starts (in calendar year N)"
    )
    tin_length: int = Field(default=9, ge=6, le=20, description="digits of a TIN, Luhn check digit included")
    income_tax: IncomeTax

    @model_validator(mode="after")
    def _fits_the_currency(self, info: ValidationInfo) -> TaxCountry:
        # Only when the caller passes the profile's currency as validation context.
        currency = (info.context or {}).get("currency") if isinstance(info.context, dict) else None
        if currency:
            _raise(self, [(loc, message, None) for loc, message in self.currency_problems(currency)])
        return self

    def currency_problems(self, currency: str) -> list[tuple[tuple[str | int, ...], str]]:
        """Values this currency cannot hold exactly: a quantum finer than its minor unit, too many decimals."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        law = self.income_tax
        for stage in ("base", "tax"):
            quantum = getattr(law.rounding, stage).quantum
            try:
                to_minor(quantum, currency)
            except MoneyError:
                minor = Decimal(1).scaleb(-minor_units(currency))
                problems.append(
                    (
                        ("income_tax", "rounding", stage, "quantum"),
                        f"{quantum} is not a whole number of {currency} minor units ({minor}); "
                        f"use {minor} or a multiple of it",
                    )
                )
        for s, scale in enumerate(law.scale):
            for b, bracket in enumerate(scale.brackets):
                problems.extend(
                    _amount_problem(("income_tax", "scale", s, "brackets", b, "from"), bracket.threshold, currency)
                )
        for name in ("allowance", "relief"):
            for i, value in enumerate(getattr(law, name)):
                problems.extend(_amount_problem(("income_tax", name, i, "amount"), value.amount, currency))
        return problems


def _amount_problem(
    loc: tuple[str | int, ...], value: Decimal, currency: str
) -> list[tuple[tuple[str | int, ...], str]]:
    try:
        to_minor(value, currency)
    except MoneyError as error:
        return [(loc, str(error))]
    return []


def location(loc: tuple[str | int, ...], *, prefix: str = "tax") -> str:
    """`tax.income_tax.scale[0].brackets[2].from`: the key path as the core reports it."""
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _raise(model: BaseModel, problems: list[tuple[tuple[str | int, ...], str, Any]]) -> None:
    """Report each problem at its own key (pydantic prefixes the outer path)."""
    if not problems:
        return
    raise ValidationError.from_exception_data(
        type(model).__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError("tax_law", "{message}", {"message": message}), loc=loc, input=value
            )
            for loc, message, value in problems
        ],
    )
