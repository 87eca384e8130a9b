from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ..scopes import LINK_SCOPE, READ_SCOPE, TRANSFER_SCOPE
from .conftest import ALL_SCOPES, assert_problem

pytestmark = pytest.mark.country_independent  # which scope a route needs is the same in every country

ENDPOINTS = [
    ("POST", "/payments/accounts", LINK_SCOPE),
    ("POST", "/payments/accounts/resolve", READ_SCOPE),
    ("POST", "/payments/transfers", TRANSFER_SCOPE),
    ("GET", "/payments/transfers/REF-1", READ_SCOPE),
    ("POST", "/payments/balances/query", READ_SCOPE),
    ("POST", "/payments/residents/payments/query", READ_SCOPE),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_needs_its_scope(
    client: TestClient, api_headers: Callable[..., dict[str, str]], method: str, path: str, scope: str
) -> None:
    others = api_headers("meta:read", *(s for s in ALL_SCOPES if s != scope))
    response = client.request(method, path, headers=others, json={})
    assert_problem(response, 403, scope)
    assert client.request(method, path, json={}).status_code == 401


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_the_scope_is_enough(
    client: TestClient, api_headers: Callable[..., dict[str, str]], method: str, path: str, scope: str
) -> None:
    response = client.request(method, path, headers=api_headers(scope), json={})
    assert response.status_code in (404, 422), response.text  # past authorisation, stopped by the input
