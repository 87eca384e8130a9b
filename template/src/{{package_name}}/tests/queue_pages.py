"""What every work queue's tests do through the API: walk its pages, and read where a request was refused."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response


def walk_pages(
    client: TestClient, headers: dict, limit: int, *, url: str, key: str = "id", **filters: str
) -> list[list[Any]]:
    """The `key` of each item, page by page, following `next` from the first page to the last."""
    pages, after = [], None
    while True:
        params = {"limit": limit, **filters, **({"after": after} if after else {})}
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        pages.append([item[key] for item in response.json()["items"]])
        after = response.json()["next"]
        if after is None:
            return pages


def assert_refused_at(response: Response, field: str) -> None:
    """A 422 problem document naming exactly `field` (e.g. `query.limit`)."""
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["location"] for error in response.json()["errors"]] == [field]
