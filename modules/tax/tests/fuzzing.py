"""Valid TINs for the OpenAPI fuzz test (format `tin`)."""

from __future__ import annotations

from hypothesis import strategies as st

from ....core.country import LoadedCountry
from ....tests.fuzzing import seeded
from .. import tins


def formats(country: LoadedCountry) -> dict[str, st.SearchStrategy[str]]:
    length = country.section("tax").tin_length
    return {"tin": seeded(lambda random: tins.generate(length, randbelow=random.randrange))}
