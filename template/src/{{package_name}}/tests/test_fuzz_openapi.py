"""The whole OpenAPI, fuzzed with schemathesis, never answers 5xx (every installed module included)."""

from collections.abc import Callable

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from ..cli import all_scopes

EXAMPLES_PER_OPERATION = 25


# Request validation is the same code whatever the profile: every module combination is fuzzed
# with the default country, the other profiles skip it (see country_independent).
@pytest.mark.country_independent
def test_no_request_makes_the_server_fail(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> None:
    headers = api_headers(*all_scopes())
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operation"
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def no_server_error(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        no_server_error()
