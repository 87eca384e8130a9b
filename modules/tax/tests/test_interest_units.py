"""Late-payment interest written per month, per week, or as a yearly rate charged per day, with steps by delay."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ....core.country import LoadedCountry
from ..config import TaxCountry
from ..rules import TaxRules
from .helpers import with_tax

DUE = date(2025, 3, 15)


def rules(country: LoadedCountry, *interest: dict[str, Any], quantum: str | None = None) -> TaxRules:
    unit = Decimal(1).scaleb(-country.profile.minor_units)
    law = with_tax(
        country, penalties={"interest": list(interest), "rounding": {"mode": "down", "quantum": quantum or str(unit)}}
    )
    return TaxRules.for_country(law)


def charged(law: TaxRules, amount: int, as_of: date, payments: tuple[tuple[date, int], ...] = ()) -> int:
    return law.interest(debts=[(DUE, amount)], payments=list(payments), as_of=as_of)[0]


def test_a_weekly_rate_is_charged_per_week_or_part_of_a_week(country: LoadedCountry) -> None:
    law = rules(country, {"since": "2020-01-01", "weekly_rate": "0.004"})
    amount = 1_000_000
    assert charged(law, amount, DUE) == 0
    assert charged(law, amount, DUE + timedelta(days=1)) == 4_000  # a part of a week
    assert charged(law, amount, DUE + timedelta(days=7)) == 4_000
    assert charged(law, amount, DUE + timedelta(days=8)) == 8_000
    detail = law.interest(debts=[(DUE, amount)], payments=[], as_of=DUE + timedelta(days=15))[1]
    assert detail == [{"due": DUE.isoformat(), "amount": amount, "weeks": 3, "interest": "12000"}]


def test_an_annual_rate_is_charged_per_day_and_steps_up_after_the_first_months(country: LoadedCountry) -> None:
    # Japan's delinquency tax: 2.4 % a year for two months after the due date, 8.7 % after.
    law = rules(
        country, {"since": "2022-01-01", "annual_rate": "0.024", "steps": [{"after_months": 2, "rate": "0.087"}]}
    )
    amount = 36_500_000
    assert charged(law, amount, DUE + timedelta(days=1)) == 2_400  # 36,500,000 x 2.4 % / 365
    assert charged(law, amount, date(2025, 5, 15)) == 2_400 * 61  # 16 March to 15 May, all in the first two months
    assert charged(law, amount, date(2025, 5, 16)) == 2_400 * 61 + 8_700  # the first day at 8.7 %
    paid = ((DUE + timedelta(days=10), amount),)
    assert charged(law, amount, date(2025, 12, 31), paid) == 2_400 * 10  # payment stops it


def test_a_yearly_rate_divided_by_365_is_summed_exactly_and_rounded_once(country: LoadedCountry) -> None:
    law = rules(country, {"since": "2022-01-01", "annual_rate": "0.087"})
    # 1,000 x 8.7 % / 365 = 0.2383... a day: three days are 0.715..., not three rounded days.
    assert charged(law, 1_000, DUE + timedelta(days=3)) == 0
    assert charged(law, 100_000, DUE + timedelta(days=3)) == 71  # 71.5..., rounded down once


def test_monthly_steps_charge_each_month_at_its_own_tier(country: LoadedCountry) -> None:
    # Rwanda: 0.5 % a month for six months of delay, 1 % to twelve, 1.5 % after.
    law = rules(
        country,
        {
            "since": "2020-01-01",
            "monthly_rate": "0.005",
            "steps": [{"after_months": 6, "rate": "0.01"}, {"after_months": 12, "rate": "0.015"}],
        },
    )
    amount = 100_000
    assert charged(law, amount, date(2025, 9, 15)) == 6 * 500
    assert charged(law, amount, date(2025, 9, 16)) == 6 * 500 + 1_000
    assert charged(law, amount, date(2026, 3, 16)) == 6 * 500 + 6 * 1_000 + 1_500


def test_the_rate_in_force_on_each_day_applies(country: LoadedCountry) -> None:
    law = rules(
        country, {"since": "2021-01-01", "annual_rate": "0.0365"}, {"since": "2025-03-18", "annual_rate": "0.073"}
    )
    # 36,500 a day before 18 March, 73,000 from it; periods start 15, 16, 17, 18 March.
    assert charged(law, 365_000_000, date(2025, 3, 19)) == 3 * 36_500 + 73_000


@pytest.mark.parametrize(
    ("interest", "message"),
    [
        ([{"since": "2021-01-01"}], "give exactly one of monthly_rate"),
        ([{"since": "2021-01-01", "monthly_rate": "0.01", "annual_rate": "0.1"}], "give exactly one of monthly_rate"),
        (
            [{"since": "2021-01-01", "monthly_rate": "0.01"}, {"since": "2022-01-01", "weekly_rate": "0.004"}],
            "write every entry's rate the same way",
        ),
        (
            [
                {
                    "since": "2021-01-01",
                    "monthly_rate": "0.01",
                    "steps": [{"after_months": 6, "rate": "0.02"}, {"after_months": 6, "rate": "0.03"}],
                }
            ],
            "6 is not after the previous step's 6",
        ),
        ([{"since": "2021-01-01", "weekly_rate": "4"}], "outside [0, 1]"),
    ],
)
def test_a_mistake_in_an_interest_rule_is_refused(
    country: LoadedCountry, interest: list[dict[str, Any]], message: str
) -> None:
    data = country.section("tax").model_dump(by_alias=True, mode="json")
    data["penalties"] = {"interest": interest}
    with pytest.raises(ValidationError, match=message.replace("[", r"\[")):
        TaxCountry.model_validate(data)


def test_a_dumped_law_validates_again_with_the_rate_it_was_written_with(country: LoadedCountry) -> None:
    law = with_tax(country, penalties={"interest": [{"since": "2022-01-01", "weekly_rate": "0.004"}]})
    dumped = law.section("tax").model_dump(by_alias=True, mode="json")["penalties"]["interest"]
    assert dumped == [{"since": "2022-01-01", "weekly_rate": "0.004", "steps": []}]
    again = TaxCountry.model_validate(law.section("tax").model_dump(by_alias=True, mode="json"))
    assert again.penalties.interest[0].unit == "week"
