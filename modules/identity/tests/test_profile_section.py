"""The identity: section of country.yml: a mistake in each field is refused at start-up, naming it."""

from ....tests.test_country import mistakes_refused_at_start_up

# (key path, bad value, what the report says); a path into a law this profile does not state is skipped.
SECTION_MISTAKES = [
    ("identity.id_name", "", "identity.id_name: String should have at least 1 character"),
    ("identity.id_length", 3, "identity.id_length: Input should be greater than or equal to 8"),
]


test_a_mistake_in_each_field_of_the_section_is_refused_at_start_up_naming_it = mistakes_refused_at_start_up(
    SECTION_MISTAKES
)
