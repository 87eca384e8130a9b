import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ....core.errors import Unprocessable
from ..bulk import SCAN_FROM, _Block
from ..service import _valid_e164_of_region, name_score, normalise_name, normalised_phone, sorted_tokens


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


# Names of two letters, so that many pairs come close to the threshold.
NAMES = st.from_regex(r"[ab]{1,4}( [ab]{1,4}){0,2}", fullmatch=True)


@pytest.mark.country_independent
@settings(max_examples=300, deadline=None)
@given(names=st.lists(NAMES, max_size=2 * SCAN_FROM), query=NAMES)
def test_bulk_dedup_flags_exactly_the_names_scoring_the_threshold(names: list[str], query: str) -> None:
    # Small blocks compare name by name, larger ones scan in one rapidfuzz call: both must agree with name_score.
    block = _Block()
    for number, name in enumerate(names):
        key = normalise_name(name)
        block.add(f"{number:02d}", key, sorted_tokens(key))
    key = normalise_name(query)
    expected = [f"{n:02d}" for n, name in enumerate(names) if name_score(key, normalise_name(name)) >= 90]
    assert block.candidates(key, sorted_tokens(key), 90) == expected


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
