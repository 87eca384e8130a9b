import random
import secrets

import pytest
from stdnum import verhoeff

from ..idnumbers import InvalidNationalId, failed_filters, generate, passes_filters, validate


@pytest.mark.parametrize("length", [8, 10, 12, 16])
def test_generated_ids_have_the_length_and_a_valid_check_digit(length: int) -> None:
    for _ in range(50):
        number = generate(length)
        assert len(number) == length
        assert verhoeff.is_valid(number)
        assert number[0] not in "01"
        assert passes_filters(number)


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("0482957316", "leading_zero_or_one"),
        ("1482957316", "leading_zero_or_one"),
        ("2345971683", "sequence_of_three"),
        ("9876253917", "sequence_of_three"),
        ("2552937164", "digit_repeated_within_two"),
        ("2527937164", "digit_repeated_within_two"),
        ("2937293716", "repeated_block"),
        ("2468937153", "three_adjacent_even"),
        ("7142857393", "contains_cyclic"),
        ("3972539725", "halves_mirror"),
        ("3972552793", "halves_mirror"),
    ],
)
def test_filters_refuse_mosip_patterns(number: str, rule: str) -> None:
    assert rule in failed_filters(number)
    assert not passes_filters(number)


def test_an_acceptable_number_fails_no_filter() -> None:
    assert failed_filters("6497869071") == []


def test_restricted_numbers_are_never_issued() -> None:
    first = generate(10, randbelow=random.Random(3).randrange)
    again = generate(10, restricted=[first], randbelow=random.Random(3).randrange)
    assert again != first
    assert passes_filters(again)


def test_ids_come_from_the_operating_systems_secure_source() -> None:
    default_source = generate.__kwdefaults__["randbelow"]
    assert isinstance(default_source.__self__, secrets.SystemRandom)


def test_ids_are_random_not_sequential() -> None:
    # A seeded source keeps this exact: two unseeded draws may (rarely) collide, which
    # is why enrolment checks every new ID against those already issued.
    rng = random.Random(11)
    numbers = [generate(10, randbelow=rng.randrange) for _ in range(200)]
    assert len(set(numbers)) == 200
    assert sorted(numbers) != numbers


def test_validate_explains_what_is_wrong() -> None:
    good = generate(10)
    assert validate(good, length=10) == good
    wrong_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(InvalidNationalId, match="check digit"):
        validate(wrong_digit, length=10)
    with pytest.raises(InvalidNationalId, match="has 9 digits; IDs here have 10"):
        validate(good[:-1], length=10)
    with pytest.raises(InvalidNationalId, match="digits only"):
        validate("12345abcde", length=10)


def test_generation_uses_the_given_random_source() -> None:
    rng = random.Random(7)
    assert generate(10, randbelow=rng.randrange) == generate(10, randbelow=random.Random(7).randrange)
