"""The Ethiopian calendar against a reference table, and fiscal years in either calendar.

Supported: converting any Gregorian date to and from the Ethiopian calendar (Amete Mihret
era), fiscal years that start on an Ethiopian month-day and are numbered by the year they
start or end in, month counts, and long display forms in Amharic and English.
"""

from datetime import date, timedelta

import pytest

from ..core.calendars import (
    CalendarError,
    LocalDate,
    add_months,
    days_in_month,
    fiscal_year,
    fiscal_year_of,
    format_date,
    from_local,
    to_local,
)

# (Ethiopian year, month, day) -> Gregorian date, from published calendars.
REFERENCE = [
    ((1888, 6, 23), date(1896, 3, 1)),  # Yekatit 23, 1888: the battle of Adwa, 1 March 1896
    ((2012, 1, 1), date(2019, 9, 12)),  # Enkutatash before a Gregorian leap year starts on 12 September
    ((2015, 13, 6), date(2023, 9, 11)),  # Pagume 6: 2015 is an Ethiopian leap year (2015 % 4 == 3)
    ((2016, 1, 1), date(2023, 9, 12)),
    ((2016, 4, 29), date(2024, 1, 8)),  # Genna (Tahsas 29) falls on 8 January after an Ethiopian leap year
    ((2016, 11, 1), date(2024, 7, 8)),  # Hamle 1, 2016: start of the 2017 E.F.Y. budget year
    ((2017, 1, 1), date(2024, 9, 11)),  # Enkutatash 2017
    ((2017, 4, 29), date(2025, 1, 7)),  # Genna
    ((2017, 10, 30), date(2025, 7, 7)),  # Sene 30, 2017: end of the 2017 E.F.Y.
    ((2017, 13, 5), date(2025, 9, 10)),  # Pagume 5: 2017 is a common year
    ((2018, 1, 1), date(2025, 9, 11)),
]


@pytest.mark.parametrize(("ethiopian", "gregorian"), REFERENCE)
def test_the_ethiopian_calendar_matches_the_reference_table(ethiopian: tuple[int, int, int], gregorian: date) -> None:
    assert from_local("ethiopian", *ethiopian) == gregorian
    assert to_local(gregorian, "ethiopian") == LocalDate(*ethiopian, calendar="ethiopian")


def test_every_day_of_four_centuries_converts_both_ways() -> None:
    day, previous = date(1900, 1, 1), to_local(date(1899, 12, 31), "ethiopian")
    while day < date(2300, 1, 1):
        local = to_local(day, "ethiopian")
        assert from_local("ethiopian", local.year, local.month, local.day) == day
        assert local > previous  # one day later is always a later Ethiopian date
        day, previous = day + timedelta(days=1), local


def test_month_lengths_and_impossible_days() -> None:
    assert [days_in_month("ethiopian", 2015, m) for m in (1, 12, 13)] == [30, 30, 6]
    assert days_in_month("ethiopian", 2016, 13) == 5
    assert days_in_month("gregorian", 2024, 2) == 29
    with pytest.raises(CalendarError, match="day 6 does not exist in ethiopian month 13 of 2016"):
        from_local("ethiopian", 2016, 13, 6)
    with pytest.raises(CalendarError, match="month 14 does not exist"):
        from_local("ethiopian", 2016, 14, 1)
    with pytest.raises(CalendarError, match="not a supported calendar"):
        to_local(date(2024, 1, 1), "julian")


def test_ethiopian_fiscal_years_run_from_hamle_1_and_are_named_by_their_end() -> None:
    efy = fiscal_year(2017, calendar="ethiopian", start=(11, 1), named_by="end")
    assert (efy.start, efy.end) == (date(2024, 7, 8), date(2025, 7, 7))
    after_leap = fiscal_year(2016, calendar="ethiopian", start=(11, 1), named_by="end")
    assert (after_leap.start, after_leap.end) == (date(2023, 7, 8), date(2024, 7, 7))
    assert fiscal_year_of(date(2024, 7, 7), calendar="ethiopian", start=(11, 1), named_by="end").label == 2016
    assert fiscal_year_of(date(2024, 7, 8), calendar="ethiopian", start=(11, 1), named_by="end").label == 2017
    assert fiscal_year_of(date(2024, 9, 11), calendar="ethiopian", start=(11, 1), named_by="end").label == 2017


def test_gregorian_fiscal_years_named_by_start_or_end() -> None:
    india = fiscal_year(2024, start=(4, 1))
    assert (india.start, india.end) == (date(2024, 4, 1), date(2025, 3, 31))
    assert fiscal_year_of(date(2025, 3, 31), start=(4, 1)).label == 2024
    us_style = fiscal_year(2025, start=(10, 1), named_by="end")
    assert (us_style.start, us_style.end) == (date(2024, 10, 1), date(2025, 9, 30))
    calendar_year = fiscal_year(2024, named_by="end")
    assert (calendar_year.start, calendar_year.end) == (date(2024, 1, 1), date(2024, 12, 31))


def test_months_are_counted_in_the_calendar() -> None:
    # Four months after the 2017 E.F.Y. ends on Sene 30: Tikimt 30, 2018 (Pagume counts with Nehase).
    assert add_months(date(2025, 7, 8), 4, "ethiopian") - timedelta(days=1) == from_local("ethiopian", 2018, 2, 30)
    assert add_months(from_local("ethiopian", 2017, 13, 5), 1, "ethiopian") == from_local("ethiopian", 2018, 1, 30)
    assert add_months(from_local("ethiopian", 2017, 12, 30), 12, "ethiopian") == from_local("ethiopian", 2018, 12, 30)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_dates_are_displayed_in_the_calendar_and_language() -> None:
    hamle_1 = date(2024, 7, 8)
    assert format_date(hamle_1, "ethiopian", "am_ET") == "ሐምሌ 1 ቀን 2016 ዓ.ም."
    assert format_date(hamle_1, "ethiopian", "en") == "Hamle 1, 2016 E.C."
    assert format_date(hamle_1, "ethiopian", "om_ET") == "Hamle 1, 2016 E.C."
    assert format_date(hamle_1, "gregorian", "en_KE") == "8 July 2024"
    assert format_date(hamle_1, "gregorian", "ja_JP") == "2024年7月8日"


def test_the_deployments_profile_shows_dates_in_its_calendar(country) -> None:
    profile = country.profile
    shown = profile.format_date(date(2024, 7, 8))
    assert shown == format_date(date(2024, 7, 8), profile.calendar, profile.locale)
    assert ("2016" in shown) == (profile.calendar == "ethiopian")
