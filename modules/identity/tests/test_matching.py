import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ....core.errors import Unprocessable
from ..service import _valid_e164_of_region, name_score, normalise_name, normalised_phone


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Julius Samuel Kiprono", "julius asmuel kiprono"),  # a typo moving a word's first letter
        ("Vallary Rhoda Abdalla", "VallaryRhoda Abdalla"),  # a lost space
        ("Amina Wanjiru", "Wanjiru Amina"),  # given and family swapped
        ("Amina Wanjiru", "  AMINA   Wanjirú "),  # case, accents, spacing
    ],
)
def test_near_duplicate_names_score_at_least_90(left: str, right: str) -> None:
    assert name_score(normalise_name(left), normalise_name(right)) >= 90


def test_different_people_score_low() -> None:
    assert name_score(normalise_name("Amina Wanjiru"), normalise_name("Peter Otieno")) < 60


@settings(max_examples=300, deadline=None)
@given(
    region=st.sampled_from(["KE", "JP", "JO", "DE", "IN", "NG", "FR", "BR"]),
    digits=st.integers(min_value=10**4, max_value=10**12),
)
def test_fast_phone_path_never_accepts_what_phonenumbers_refuses(region: str, digits: int) -> None:
    number = f"+{phonenumbers.country_code_for_region(region)}{digits}"
    if _valid_e164_of_region(number, region):
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_valid_number(parsed)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number


def test_phones_are_normalised_to_e164_or_refused() -> None:
    assert normalised_phone("0712 345 678", "KE") == "+254712345678"
    assert normalised_phone("+254712345678", "KE") == "+254712345678"
    with pytest.raises(Unprocessable, match="not a valid number"):
        normalised_phone("+25471234", "KE")
