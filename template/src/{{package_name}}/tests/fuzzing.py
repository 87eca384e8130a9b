"""What a module gives the OpenAPI fuzz test: strategies for what JSON Schema cannot say.

A module states such a constraint as a custom string `format` (a check digit, a numbering plan) or
a media type (an XML bank message) and ships `tests/fuzzing.py` with `formats(country)` and,
if it takes such bodies, `media_types(country)`, each a dict of Hypothesis strategies that
generate VALID values with the module's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

from hypothesis import strategies as st


def seeded(generate: Callable[[Random], str]) -> st.SearchStrategy[str]:
    """Values from a module's own generator, driven by a seed Hypothesis chooses (so it can shrink)."""
    return st.integers(min_value=0, max_value=2**64).map(lambda seed: generate(Random(seed)))


def phone_numbers(region: str) -> st.SearchStrategy[str]:
    """Valid mobile numbers of `region`'s numbering plan, in E.164 (variations of its example number)."""
    import phonenumbers  # only the modules that take phone numbers depend on it

    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)

    def vary(tail: int) -> str | None:
        number = phonenumbers.parse(national[:-4] + f"{tail:04d}", region)
        if phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == region:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return None

    return st.integers(0, 9999).map(vary).filter(lambda number: number is not None)
