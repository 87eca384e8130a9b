"""Valid national IDs and VIDs for the OpenAPI fuzz test (formats `national-id` and `vid`)."""

from __future__ import annotations

from hypothesis import strategies as st

from ....core.country import LoadedCountry
from ....tests.fuzzing import seeded
from .. import idnumbers, vids


def formats(country: LoadedCountry) -> dict[str, st.SearchStrategy[str]]:
    length = country.section("identity").id_length
    return {
        "national-id": seeded(lambda random: idnumbers.generate(length, randbelow=random.randrange)),
        "vid": seeded(lambda random: idnumbers.generate(vids.VID_LENGTH, randbelow=random.randrange)),
    }
