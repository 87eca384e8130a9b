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
