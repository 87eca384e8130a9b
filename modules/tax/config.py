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
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from ...core.calendars import CALENDARS, CalendarError, from_local
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


def _fiscal_month_day(value: Any, info: ValidationInfo) -> str:
    """`fiscal_year_start`: a month-day of the fiscal calendar (declared before it)."""
    calendar = info.data.get("fiscal_calendar", "gregorian")
    if calendar == "gregorian":
        return _month_day(value)
    text = str(value)
    try:
        month, day = (int(part) for part in text.split("-"))
        from_local(calendar, 2001, month, day)  # 2001 % 4 != 3: a common Ethiopian year
    except (ValueError, CalendarError):
        raise ValueError(f'{value!r} is not a month-day of the {calendar} calendar such as "11-01"') from None
    if len(text) != 5:
        raise ValueError(f'{value!r} must be written MM-DD, such as "11-01"')
    return text


# What generation checks (scripts/profile-schemas, jinja/jsonschema.jinja): quoted decimal text,
# as every profile writes it; the range is part of the pattern, Jinja having no decimals.
Threshold = Annotated[
    ExactDecimal,
    AfterValidator(_non_negative),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?$",
            "x-hint": 'a quoted non-negative decimal number such as "288000"',
        }
    ),
]
Rate = Annotated[
    ExactDecimal,
    AfterValidator(_fraction),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^(0+(\\.[0-9]+)?|0*1(\\.0+)?)$",
            "x-hint": 'a quoted decimal fraction from "0" to "1" (25% is "0.25")',
        }
    ),
]
Quantum = Annotated[
    ExactDecimal,
    AfterValidator(_positive),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^(?=[0-9.]*[1-9])[0-9]+(\\.[0-9]+)?$",
            "x-hint": 'a quoted amount above zero such as "1" or "0.01"',
        }
    ),
]
# A month-day at generation: month 13 is the Ethiopian Pagume; whether the day exists in the
# calendar is checked at start-up.
MONTH_DAY_SCHEMA = {
    "pattern": "^(0[1-9]|1[0-3])-(0[1-9]|[12][0-9]|3[01])$",
    "x-hint": 'a quoted month-day MM-DD such as "07-01"',
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bracket(_Strict):
    """One band of a marginal scale: `rate` applies to income from `from` up to the next threshold."""

    threshold: Threshold = Field(alias="from", description="major units")
    rate: Rate


class DatedScale(_Strict):
    since: date
    brackets: list[Bracket] = Field(
        min_length=1,
        # The rules of _thresholds_increase, for the generation-time check.
        json_schema_extra={
            "x-first": {
                "properties": {"from": {"pattern": "^0+(\\.0+)?$", "x-hint": 'zero: the first bracket starts from "0"'}}
            },
            "x-increasing": "from",
            "x-hint": 'a non-empty list of {from: "0", rate: "0.1"}',
        },
    )

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


class DatedRate(_Strict):
    since: date
    rate: Rate


class Vat(_Strict):
    """`tax.vat`: a standard rate, optional reduced rates per category, exempt categories."""

    rate: list[DatedRate] = Field(min_length=1, description="the standard rate, dated")
    reduced: dict[str, list[DatedRate]] = Field(
        default_factory=dict, description="category -> dated reduced rate (e.g. food: 8 %)"
    )
    exempt: list[str] = Field(default_factory=list, description="categories outside VAT: no output or input VAT")
    period: Literal["month", "quarter", "year"] = Field(default="month", description="the length of a VAT period")
    filing_deadline_days: int = Field(default=30, ge=0, le=366, description="days after the period ends")
    rounding: RoundingRule = Field(
        default=RoundingRule(mode=RoundingMode.HALF_UP), description="applied to output and input VAT"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Vat:
        problems = _duplicate_dates(self.rate, "rate")
        for category, rates in self.reduced.items():
            if not rates:
                problems.append((("reduced", category), "give at least one dated rate", None))
            problems.extend(_duplicate_dates(rates, "rate", prefix=("reduced", category)))
            if category in self.exempt:
                problems.append(
                    (
                        ("reduced", category),
                        f"{category!r} is also listed as exempt; a category is one or the other",
                        None,
                    )
                )
        seen: set[str] = set()
        for index, category in enumerate(self.exempt):
            if not category.strip():
                problems.append((("exempt", index), "a category name cannot be empty", category))
            if category in seen:
                problems.append((("exempt", index), f"{category!r} is listed twice", category))
            seen.add(category)
        _raise(self, problems)
        return self


class FilingDeadline(_Strict):
    """When a fiscal year's income-tax return (and its tax) is due."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["months_after_year_end"]}, {"required": ["month_day"]}]}
    )

    months_after_year_end: int | None = Field(default=None, ge=0, le=24)
    month_day: Annotated[str, BeforeValidator(_month_day), Field(json_schema_extra=MONTH_DAY_SCHEMA)] | None = Field(
        default=None, description="MM-DD: the first such day after the fiscal year ends"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> FilingDeadline:
        if (self.months_after_year_end is None) == (self.month_day is None):
            raise ValueError('give exactly one of months_after_year_end (e.g. 6) or month_day (e.g. "03-15")')
        return self


def _filing_deadline(value: Any) -> Any:
    return {"month_day": value} if isinstance(value, str) else value


class LateFiling(_Strict):
    """A penalty for filing after the deadline: a fixed amount, a share of the tax, or both."""

    since: date
    fixed: Threshold = Field(default=Decimal(0), description="major units")
    rate: Rate = Field(default=Decimal(0), description="share of the tax assessed")
    combine: Literal["greater", "sum"] = Field(default="greater", description="how fixed and rate combine")


class RateStep(_Strict):
    """A later rate by length of delay: from `after_months` months after the due date (Japan: 2)."""

    after_months: int = Field(ge=1, le=600)
    rate: Rate = Field(description="in the unit of the entry's own rate (per month, per week, or a year's)")


# How each way of writing the rate is charged: per month or part of a month, per week or
# part of a week, or a yearly rate per day (1/365 of it a day).
INTEREST_UNITS = {"monthly_rate": "month", "weekly_rate": "week", "annual_rate": "day"}


class DatedMonthlyRate(_Strict):
    """One dated interest rule; give exactly one of monthly_rate, weekly_rate or annual_rate."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": [name]} for name in INTEREST_UNITS]})

    since: date
    monthly_rate: Rate = Field(
        default=Decimal(0), description="simple interest per month, or part of a month, on unpaid tax"
    )
    weekly_rate: Rate = Field(default=Decimal(0), description="simple interest per week, or part of a week")
    annual_rate: Rate = Field(default=Decimal(0), description="a yearly rate charged per day unpaid, 1/365 a day")
    steps: list[RateStep] = Field(
        default_factory=list,
        description="later rates by months of delay, in the same unit; none: one rate",
        json_schema_extra={"x-increasing": "after_months"},
    )

    @model_validator(mode="after")
    def _one_rate(self) -> DatedMonthlyRate:
        given = [name for name in INTEREST_UNITS if name in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(
                'give exactly one of monthly_rate (e.g. "0.01"), weekly_rate (e.g. "0.004") '
                'or annual_rate (e.g. "0.087", charged per day)'
            )
        problems = [
            (
                ("steps", index, "after_months"),
                f"{step.after_months} is not after the previous step's {previous.after_months}; steps must increase",
                step.after_months,
            )
            for index, (previous, step) in enumerate(pairwise(self.steps), start=1)
            if step.after_months <= previous.after_months
        ]
        _raise(self, problems)
        return self

    @model_serializer(mode="wrap")
    def _only_the_rate_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Dumped and validated again (a changed copy of the law), it must still name one rate.
        data = handler(self)
        for name in INTEREST_UNITS:
            if name not in self.model_fields_set:
                data.pop(name, None)
        return data

    @property
    def unit(self) -> str:
        """month, week or day: what one period of interest is."""
        return next(INTEREST_UNITS[name] for name in INTEREST_UNITS if name in self.model_fields_set)

    @property
    def rate(self) -> Decimal:
        return next(getattr(self, name) for name in INTEREST_UNITS if name in self.model_fields_set)


class Penalties(_Strict):
    late_filing: list[LateFiling] = Field(default_factory=list, description="none means no penalty")
    interest: list[DatedMonthlyRate] = Field(default_factory=list, description="none means no interest")
    rounding: RoundingRule = Field(default=RoundingRule(mode=RoundingMode.DOWN), description="for penalty and interest")

    @model_validator(mode="after")
    def _one_value_per_date(self) -> Penalties:
        problems = _duplicate_dates(self.late_filing, "late_filing") + _duplicate_dates(self.interest, "interest")
        # Periods are counted from the due date in one unit; a change of unit would be a new method.
        units = {rule.unit for rule in self.interest}
        if len(units) > 1:
            problems.append(
                (("interest",), "write every entry's rate the same way (all monthly, weekly or annual)", None)
            )
        _raise(self, problems)
        return self


class DatedDays(_Strict):
    since: date
    days: int = Field(ge=1, le=3650)


class Objections(_Strict):
    window_days: list[DatedDays] = Field(
        default_factory=lambda: [DatedDays(since=date(1900, 1, 1), days=30)],
        description="days after an assessment within which it may be objected to",
    )

    @model_validator(mode="after")
    def _one_value_per_date(self) -> Objections:
        _raise(self, _duplicate_dates(self.window_days, "window_days"))
        return self


def _duplicate_dates(
    values: list[Any], name: str, *, prefix: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], str, Any]]:
    problems: list[tuple[tuple[str | int, ...], str, Any]] = []
    seen: dict[date, int] = {}
    for index, value in enumerate(values):
        if value.since in seen:
            problems.append(
                (
                    (*prefix, name, index, "since") if not prefix else (*prefix, index, "since"),
                    f"{value.since} is already the since date of {name}[{seen[value.since]}]; "
                    "each dated value needs its own date",
                    value.since.isoformat(),
                )
            )
        seen.setdefault(value.since, index)
    return problems


def _also_none(schema: dict[str, Any]) -> None:
    """`income_tax: none` is read by TaxCountry._income_tax_none; the schema says so too."""
    schema["anyOf"].append({"const": "none"})
    schema["x-hint"] = "a mapping with scale and rounding, or none for a country that levies no income tax"


def _or_a_month_day(schema: dict[str, Any]) -> None:
    """A bare "MM-DD" is read as {month_day: ...} (_filing_deadline); the schema says so too."""
    schema["anyOf"] = [{"type": "string", **MONTH_DAY_SCHEMA}, {"$ref": schema.pop("$ref")}]


class TaxCountry(_Strict):
    """`tax:` in country.yml."""

    # Declared before fiscal_year_start, which is read in this calendar.
    fiscal_calendar: Literal["gregorian", "ethiopian"] = Field(
        default="gregorian", description=f"calendar of fiscal_year_start and of month counts ({', '.join(CALENDARS)})"
    )
    fiscal_year_start: Annotated[str, BeforeValidator(_fiscal_month_day)] = Field(
        default="01-01",
        description="MM-DD of the fiscal calendar on which a fiscal year starts",
        json_schema_extra=MONTH_DAY_SCHEMA,
    )
    fiscal_year_named_by: Literal["start", "end"] = Field(
        default="start",
        description="a fiscal year is numbered by the calendar year it starts in (India: FY 2024-25 is 2024) "
        "or ends in (Ethiopia: 2017 E.F.Y. runs Hamle 1, 2016 to Sene 30, 2017)",
    )
    tin_length: int = Field(default=9, ge=6, le=20, description="digits of a TIN, Luhn check digit included")
    # Absent means nobody has entered the law yet; "none" means the country levies no personal
    # income tax. Either way nothing is assessed: a placeholder scale would send out wrong bills.
    income_tax: IncomeTax | None = Field(
        default=None,
        description='the income-tax law; absent: not given yet (assessments refused); "none": no income tax is levied',
        json_schema_extra=_also_none,
    )
    _levies_no_income_tax: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _income_tax_none(cls, data: Any, handler: ModelWrapValidatorHandler[TaxCountry]) -> TaxCountry:
        # "none" is read here rather than as a union member, so a mistake inside a law is
        # reported at its own key (tax.income_tax.scale[0]...) and not once per union branch.
        levies_none = isinstance(data, dict) and data.get("income_tax") == "none"
        if levies_none:
            data = {**data, "income_tax": None}
        section = handler(data)
        section._levies_no_income_tax = levies_none
        return section

    @field_serializer("income_tax")
    def _dump_income_tax(self, law: IncomeTax | None) -> Any:
        return "none" if self._levies_no_income_tax else law

    @property
    def levies_no_income_tax(self) -> bool:
        """`income_tax: none`: the country levies no personal income tax (as opposed to a law not given yet)."""
        return self._levies_no_income_tax

    filing_deadline: Annotated[FilingDeadline, BeforeValidator(_filing_deadline)] = Field(
        default=FilingDeadline(months_after_year_end=6),
        description='"MM-DD" or {months_after_year_end: N}: when a year\'s return and tax are due',
        json_schema_extra=_or_a_month_day,
    )
    vat: Vat | None = Field(default=None, description="none: this deployment assesses no VAT")
    penalties: Penalties = Field(default_factory=Penalties)
    objections: Objections = Field(default_factory=Objections)

    @model_validator(mode="after")
    def _deadline_in_the_fiscal_calendar(self) -> TaxCountry:
        if self.fiscal_calendar != "gregorian" and self.filing_deadline.month_day is not None:
            _raise(
                self,
                [
                    (
                        ("filing_deadline", "month_day"),
                        f"a month-day deadline is Gregorian; with fiscal_calendar {self.fiscal_calendar} "
                        "give months_after_year_end (e.g. 4)",
                        self.filing_deadline.month_day,
                    )
                ],
            )
        return self

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
        if law is not None:
            problems.extend(_income_tax_problems(law, currency))
        rules = [(("penalties", "rounding", "quantum"), self.penalties.rounding.quantum)]
        if self.vat is not None:
            rules.append((("vat", "rounding", "quantum"), self.vat.rounding.quantum))
        for loc, quantum in rules:
            problems.extend(_quantum_problem(loc, quantum, currency))
        for i, penalty in enumerate(self.penalties.late_filing):
            problems.extend(_amount_problem(("penalties", "late_filing", i, "fixed"), penalty.fixed, currency))
        return problems


def _income_tax_problems(law: IncomeTax, currency: str) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for stage in ("base", "tax"):
        quantum = getattr(law.rounding, stage).quantum
        problems.extend(_quantum_problem(("income_tax", "rounding", stage, "quantum"), quantum, currency))
    for s, scale in enumerate(law.scale):
        for b, bracket in enumerate(scale.brackets):
            problems.extend(
                _amount_problem(("income_tax", "scale", s, "brackets", b, "from"), bracket.threshold, currency)
            )
    for name in ("allowance", "relief"):
        for i, value in enumerate(getattr(law, name)):
            problems.extend(_amount_problem(("income_tax", name, i, "amount"), value.amount, currency))
    return problems


def _quantum_problem(
    loc: tuple[str | int, ...], quantum: Decimal, currency: str
) -> list[tuple[tuple[str | int, ...], str]]:
    try:
        to_minor(quantum, currency)
    except MoneyError:
        minor = Decimal(1).scaleb(-minor_units(currency))
        return [
            (
                loc,
                f"{quantum} is not a whole number of {currency} minor units ({minor}); use {minor} or a multiple of it",
            )
        ]
    return []


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
