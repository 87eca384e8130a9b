import random

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import verhoeff

from ..idnumbers import generate, passes_filters, stream
from ..vids import VID_LENGTH

LENGTHS = st.sampled_from([8, 10, 12, 16, VID_LENGTH])


@settings(max_examples=200, deadline=None)
@given(length=LENGTHS, seed=st.integers(min_value=0, max_value=2**64))
def test_every_generated_id_passes_its_check_and_filters(length: int, seed: int) -> None:
    number = generate(length, randbelow=random.Random(seed).randrange)
    assert len(number) == length
    assert verhoeff.is_valid(number)
    assert passes_filters(number)


@settings(max_examples=50, deadline=None)
@given(length=LENGTHS)
def test_bulk_stream_ids_pass_their_check_and_filters(length: int) -> None:
    ids = stream(length)
    for _ in range(20):
        number = next(ids)
        assert len(number) == length and verhoeff.is_valid(number) and passes_filters(number)


@settings(max_examples=300, deadline=None)
@given(
    length=LENGTHS,
    seed=st.integers(min_value=0, max_value=2**64),
    position=st.integers(min_value=0),
    shift=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_change_is_caught(length: int, seed: int, position: int, shift: int) -> None:
    number = generate(length, randbelow=random.Random(seed).randrange)
    at = position % length
    changed = number[:at] + str((int(number[at]) + shift) % 10) + number[at + 1 :]
    assert changed != number
    assert not verhoeff.is_valid(changed)
