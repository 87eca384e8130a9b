"""Calendars a country profile may use besides the Gregorian one.

Dates are stored and computed as Python `date` (proleptic Gregorian) everywhere;
a calendar only converts a date to and from its own year-month-day, so fiscal
periods can be defined and dates shown the way the country reckons them.

Supported: `gregorian`, and `ethiopian` (Amete Mihret era): twelve months of 30
days then Pagume of 5 days, 6 in the year before a Gregorian-style leap year
(Ethiopian year % 4 == 3). It is the Coptic calendar with year + 276, and it is
implemented as plain day arithmetic (Reingold & Dershowitz, *Calendrical
Calculations*, "ethiopic"), checked against a reference table in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from babel.dates import format_date as babel_format_date

CalendarName = Literal["gregorian", "ethiopian"]
CALENDARS: tuple[str, ...] = ("gregorian", "ethiopian")

# Day number (date.toordinal) of Meskerem 1, year 1 of the Ethiopian calendar,
# i.e. 29 August 8 CE (Julian): "ethiopic-epoch" in Calendrical Calculations.
_ETHIOPIAN_EPOCH = 2796

ETHIOPIAN_MONTHS = {
    "en": (
        "Meskerem",
        "Tikimt",
        "Hidar",
        "Tahsas",
        "Tir",
        "Yekatit",
        "Megabit",
        "Miyazya",
        "Ginbot",
        "Sene",
        "Hamle",
        "Nehase",
        "Pagume",
    ),
    "am": ("መስከረም", "ጥቅምት", "ኅዳር", "ታኅሣሥ", "ጥር", "የካቲት", "መጋቢት", "ሚያዝያ", "ግንቦት", "ሰኔ", "ሐምሌ", "ነሐሴ", "ጳጉሜን"),
}


class CalendarError(ValueError):
    """An unknown calendar, or a day that does not exist in it."""


@dataclass(frozen=True, slots=True, order=True)
class LocalDate:
    """A day as the calendar names it."""

    year: int
    month: int
    day: int
    calendar: str = "gregorian"

    def isoformat(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def check_calendar(name: str) -> str:
    if name not in CALENDARS:
        raise CalendarError(f"{name!r} is not a supported calendar; allowed: {', '.join(CALENDARS)}")
    return name


def months_in_year(calendar: str) -> int:
    return 13 if check_calendar(calendar) == "ethiopian" else 12


def days_in_month(calendar: str, year: int, month: int) -> int:
    if check_calendar(calendar) == "gregorian":
        if not 1 <= month <= 12:
            raise CalendarError(f"month {month} does not exist in the gregorian calendar (1-12)")
        return ((date(year + month // 12, month % 12 + 1, 1)) - date(year, month, 1)).days
    if not 1 <= month <= 13:
        raise CalendarError(f"month {month} does not exist in the ethiopian calendar (1-13, 13 is Pagume)")
    if month < 13:
        return 30
    return 6 if year % 4 == 3 else 5


def from_local(calendar: str, year: int, month: int, day: int) -> date:
    """The Gregorian `date` of day `day` of month `month` of `year` in `calendar`."""
    if check_calendar(calendar) == "gregorian":
        try:
            return date(year, month, day)
        except ValueError as error:
            raise CalendarError(f"{year:04d}-{month:02d}-{day:02d} is not a gregorian date: {error}") from None
    length = days_in_month(calendar, year, month)
    if not 1 <= day <= length:
        raise CalendarError(f"day {day} does not exist in ethiopian month {month} of {year} (1-{length})")
    ordinal = _ETHIOPIAN_EPOCH - 1 + 365 * (year - 1) + year // 4 + 30 * (month - 1) + day
    try:
        return date.fromordinal(ordinal)
    except (ValueError, OverflowError):
        raise CalendarError(f"ethiopian year {year} is outside the supported range") from None


def to_local(day: date, calendar: str) -> LocalDate:
    """`day` as `calendar` names it."""
    if check_calendar(calendar) == "gregorian":
        return LocalDate(day.year, day.month, day.day, "gregorian")
    ordinal = day.toordinal()
    year = (4 * (ordinal - _ETHIOPIAN_EPOCH) + 1463) // 1461
    first = from_local("ethiopian", year, 1, 1).toordinal()
    month = (ordinal - first) // 30 + 1
    return LocalDate(year, month, ordinal - first - 30 * (month - 1) + 1, "ethiopian")


def add_months(day: date, months: int, calendar: str = "gregorian") -> date:
    """`day` moved by whole months of `calendar`, clamped to the end of a shorter month.

    Ethiopian months are counted twelve to the year: Pagume is counted as the last
    days of Nehase, as month counts in Ethiopian law do (four months after Sene 30
    is Tikimt 30).
    """
    local = to_local(day, calendar)
    month, dom = local.month, local.day
    if month == 13:
        month, dom = 12, 30 + dom
    year, month0 = divmod(local.year * 12 + month - 1 + months, 12)
    month = month0 + 1
    if calendar == "ethiopian" and month == 12 and dom > 30:
        return from_local(calendar, year, 13, min(dom - 30, days_in_month(calendar, year, 13)))
    return from_local(calendar, year, month, min(dom, days_in_month(calendar, year, month)))


def month_name(calendar: str, month: int, locale: str = "en") -> str:
    if check_calendar(calendar) == "gregorian":
        return babel_format_date(date(2001, month, 1), "MMMM", locale=locale)
    language = locale.replace("-", "_").split("_")[0]
    return ETHIOPIAN_MONTHS.get(language, ETHIOPIAN_MONTHS["en"])[month - 1]


def format_date(day: date, calendar: str, locale: str) -> str:
    """`day` written the way people in `locale` read it in `calendar` (long form).

    Gregorian dates use CLDR (Babel). Ethiopian dates are written "Hamle 1, 2016 E.C."
    in English and "ሐምሌ 1 ቀን 2016 ዓ.ም." in Amharic (the form of official documents);
    other languages use the English transliteration of the month names.
    """
    if check_calendar(calendar) == "gregorian":
        return babel_format_date(day, "long", locale=locale)
    local = to_local(day, calendar)
    name = month_name(calendar, local.month, locale)
    if locale.replace("-", "_").split("_")[0] == "am":
        return f"{name} {local.day} ቀን {local.year} ዓ.ም."
    return f"{name} {local.day}, {local.year} E.C."


@dataclass(frozen=True, slots=True)
class FiscalYear:
    """Fiscal year `label`: from `start` to `end` inclusive (Gregorian dates)."""

    label: int
    start: date
    end: date


def fiscal_year(
    label: int, *, calendar: str = "gregorian", start: tuple[int, int] = (1, 1), named_by: str = "start"
) -> FiscalYear:
    """Fiscal year `label`, starting on month-day `start` of `calendar`.

    `named_by="start"`: the year is named by the calendar year it starts in (India's
    FY 2024-25 is 2024); `"end"`: by the year it ends in (Ethiopia's 2017 E.F.Y. runs
    from Hamle 1, 2016 to Sene 30, 2017). A fiscal year starting on the first day of
    the calendar year is the same either way.
    """
    month, day = start
    first_year = label if named_by == "start" or (month, day) == (1, 1) else label - 1
    begins = from_local(calendar, first_year, month, day)
    following = from_local(calendar, first_year + 1, month, day)
    return FiscalYear(label, begins, following - timedelta(days=1))


def fiscal_year_of(
    day: date, *, calendar: str = "gregorian", start: tuple[int, int] = (1, 1), named_by: str = "start"
) -> FiscalYear:
    """The fiscal year containing `day`."""
    local_year = to_local(day, calendar).year
    for label in (local_year - 1, local_year, local_year + 1):
        year = fiscal_year(label, calendar=calendar, start=start, named_by=named_by)
        if year.start <= day <= year.end:
            return year
    raise CalendarError(f"no fiscal year contains {day}")  # pragma: no cover - the three candidates cover it
