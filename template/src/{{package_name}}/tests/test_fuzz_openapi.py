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
import os
from collections.abc import Callable, Iterator

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

pytestmark = pytest.mark.selection  # depends on which modules are installed

# Per operation and generation mode; measured in docs/architecture.md ("The OpenAPI contract").
# A run that checks how one module combination is assembled (the template's selection runs, whose
# operations the full runs fuzz at this budget) may ask for fewer with FUZZ_EXAMPLES_PER_OPERATION.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES_PER_OPERATION", "8"))
MODULES = __package__.rsplit(".", 1)[0] + ".modules"
Strategy = st.SearchStrategy


def module_strategies(country: LoadedCountry) -> tuple[dict[str, Strategy], dict[str, Strategy]]:
    """(formats, media types): the strategies each installed module's `tests/fuzzing.py` gives."""
    formats: dict[str, Strategy] = {}
    media_types: dict[str, Strategy] = {}
    for module in installed_modules():
        if not (module.folder / "tests" / "fuzzing.py").is_file():
            continue
        fuzzing = importlib.import_module(f"{MODULES}.{module.name}.tests.fuzzing")
        formats.update(fuzzing.formats(country))
        if hasattr(fuzzing, "media_types"):
            media_types.update(fuzzing.media_types(country))
    return formats, media_types


@pytest.fixture
def registered_formats(country: LoadedCountry) -> Iterator[dict[str, Strategy]]:
    formats, media_types = module_strategies(country)
    for name, strategy in formats.items():
        schemathesis.openapi.format(name, strategy)
    for name, strategy in media_types.items():
        schemathesis.openapi.media_type(name, strategy)
    yield formats
    for name in formats:
        schemathesis.specs.openapi.formats.unregister_string_format(name)
    schemathesis.specs.openapi.media_types.unregister_all()


# Request validation is the same code whatever the profile: every module combination is fuzzed
# with the default country, the other profiles skip it (see country_independent).
@pytest.mark.country_independent
def test_every_operation_keeps_the_contract(
    client: TestClient,
    api_headers: Callable[..., dict[str, str]],
    registered_formats: dict[str, Strategy],
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
