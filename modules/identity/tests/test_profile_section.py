"""The identity: section of country.yml: a mistake in each field is refused at start-up, naming it."""

from pathlib import Path

import pytest

from ....tests.test_country import assert_mistake_is_refused_naming_it

# (key path, bad value, what the report says); a path into a law this profile does not state is skipped.
SECTION_MISTAKES = [
    ("identity.id_name", "", "identity.id_name: String should have at least 1 character"),
    ("identity.id_length", 3, "identity.id_length: Input should be greater than or equal to 8"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), SECTION_MISTAKES, ids=[f"{m[0]}={m[1]}" for m in SECTION_MISTAKES]
)
def test_a_mistake_in_each_field_of_the_section_is_refused_at_start_up_naming_it(
    tmp_path: Path, path: str, value: object, message: str
) -> None:
    assert_mistake_is_refused_naming_it(tmp_path, path, value, message)
