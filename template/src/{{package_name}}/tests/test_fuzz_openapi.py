"""The whole OpenAPI, fuzzed with schemathesis and every check it has (every installed module included).

Each operation gets valid requests (positive) and invalid ones (negative). Every response must be
one the document states: its status code, its media type (`application/problem+json` for errors),
its schema; a request valid by the schema must not be refused as invalid, an invalid one must not
be accepted, no request makes the server fail, and authentication is never ignored.

What JSON Schema cannot say (a TIN's check digit) is a custom string `format`; a strategy per
format generates valid values with the installed module's own generator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from random import Random

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from ..cli import all_scopes
from ..core.country import LoadedCountry
from ..core.registry import installed_modules

# Per operation and generation mode; measured in docs/architecture.md ("The OpenAPI contract").
EXAMPLES_PER_OPERATION = 8
MODULES = __package__.rsplit(".", 1)[0] + ".modules"


def _digits(generate: Callable[..., str], length: int) -> st.SearchStrategy[str]:
    """Valid numbers from a module's own generator, its digits drawn from a seed Hypothesis chooses."""
    seeds = st.integers(min_value=0, max_value=2**64)
    return seeds.map(lambda seed: generate(length, randbelow=Random(seed).randrange))


def custom_formats(country: LoadedCountry) -> dict[str, st.SearchStrategy[str]]:
    """A strategy for each custom `format` the installed modules state in the OpenAPI."""
    names = {m.name for m in installed_modules()}
    formats: dict[str, st.SearchStrategy[str]] = {}
    if "identity" in names:
        idnumbers = importlib.import_module(MODULES + ".identity.idnumbers")
        vids = importlib.import_module(MODULES + ".identity.vids")
        formats["national-id"] = _digits(idnumbers.generate, country.section("identity").id_length)
        formats["vid"] = _digits(idnumbers.generate, vids.VID_LENGTH)
    if "tax" in names:
        tins = importlib.import_module(MODULES + ".tax.tins")
        formats["tin"] = _digits(tins.generate, country.section("tax").tin_length)
    return formats


@pytest.fixture
def registered_formats(country: LoadedCountry) -> Iterator[dict[str, st.SearchStrategy[str]]]:
    formats = custom_formats(country)
    for name, strategy in formats.items():
        schemathesis.openapi.format(name, strategy)
    yield formats
    for name in formats:
        schemathesis.specs.openapi.formats.unregister_string_format(name)


def test_the_custom_formats_generate_valid_values(registered_formats: dict[str, st.SearchStrategy[str]]) -> None:
    for name, strategy in registered_formats.items():
        _assert_digits(name, strategy)


def _assert_digits(name: str, strategy: st.SearchStrategy[str]) -> None:
    @given(value=strategy)
    @hypothesis_settings(max_examples=20, database=None)
    def valid(value: str) -> None:
        assert value.isascii() and value.isdigit(), (name, value)

    valid()


# Request validation is the same code whatever the profile: every module combination is fuzzed
# with the default country, the other profiles skip it (see country_independent).
@pytest.mark.country_independent
def test_every_operation_keeps_the_contract(
    client: TestClient,
    api_headers: Callable[..., dict[str, str]],
    registered_formats: dict[str, st.SearchStrategy[str]],
) -> None:
    headers = api_headers(*all_scopes())
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operation"
    failures: list[str] = []
    runs = 0
    for operation in operations:
        takes_input = any(
            (operation.path_parameters, operation.query, operation.headers, operation.cookies, operation.body)
        )
        # An operation that takes nothing (GET /health) has no invalid request to make.
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,):
            runs += 1

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                derandomize=True,
            )
            def keeps_the_contract(case) -> None:
                case.call_and_validate(headers=headers)

            try:
                keeps_the_contract()
            except (Exception, BaseExceptionGroup) as error:  # every operation's failures are reported together
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert not failures, f"{len(failures)} of {runs} runs broke the contract:\n\n" + "\n\n".join(failures)
