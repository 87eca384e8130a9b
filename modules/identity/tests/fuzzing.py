"""Valid national IDs, VIDs and phone numbers for the OpenAPI fuzz test (its custom formats)."""

from __future__ import annotations

from hypothesis import strategies as st

from ....core.country import LoadedCountry
from ....tests.fuzzing import phone_numbers, seeded
from .. import idnumbers, vids


def formats(country: LoadedCountry) -> dict[str, st.SearchStrategy[str]]:
    length = country.section("identity").id_length
    return {
        "national-id": seeded(lambda random: idnumbers.generate(length, randbelow=random.randrange)),
        "vid": seeded(lambda random: idnumbers.generate(vids.VID_LENGTH, randbelow=random.randrange)),
        "phone-number": phone_numbers(country.profile.phone_region),
    }
