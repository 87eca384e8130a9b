"""The tax: section of country.yml: a mistake in each field is refused at start-up, naming it."""

from ....tests.test_country import mistakes_refused_at_start_up

# (key path, bad value, what the report says); a path into a law this profile does not state is skipped.
SECTION_MISTAKES = [
    ("tax.fiscal_calendar", "lunar", "tax.fiscal_calendar: Input should be 'gregorian' or 'ethiopian'"),
    ("tax.fiscal_year_start", "14-01", "tax.fiscal_year_start: '14-01' is not a month-day"),
    ("tax.fiscal_year_named_by", "middle", "tax.fiscal_year_named_by: Input should be 'start' or 'end'"),
    ("tax.tin_length", 3, "tax.tin_length: Input should be greater than or equal to 6"),
    (
        "tax.income_tax.scale.0.brackets.1.rate",
        "1.5",
        "tax.income_tax.scale[0].brackets[1].rate: 1.5 is outside",
    ),
    ("tax.income_tax.scale.0.brackets.1.from", "0", "tax.income_tax.scale[0].brackets[1].from: 0 is not above"),
    ("tax.income_tax.scale.0.since", "someday", "tax.income_tax.scale[0].since: Input should be a valid date"),
    (
        "tax.income_tax.rounding.base.mode",
        "sideways",
        "tax.income_tax.rounding.base.mode: 'sideways' is not",
    ),
    ("tax.vat.rate.0.rate", "2", "tax.vat.rate[0].rate: 2 is outside [0, 1]"),
    ("tax.vat.period", "week", "tax.vat.period: Input should be 'month', 'quarter' or 'year'"),
    ("tax.filing_deadline", "02-30", "tax.filing_deadline"),
]


test_a_mistake_in_each_field_of_the_section_is_refused_at_start_up_naming_it = mistakes_refused_at_start_up(
    SECTION_MISTAKES
)
