"""The pagination convention (core/pages.py): limits, cursors, and a walk that sees every row once."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.errors import Unprocessable, install_problem_handlers
from ..core.models import Partner
from ..core.pages import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest, PageRequestDep, fetch
from ..core.security import issue_partner_key

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country


def walk(session: Session, query, limit: int) -> list[list[int]]:
    """The ids of each page, following `next` from the first page to the last."""
    pages: list[list[int]] = []
    after = None
    while True:
        page = fetch(session, query, Partner.id, PageRequest.parse(limit=limit, after=after))
        pages.append([partner.id for partner in page.items])
        if page.next is None:
            return pages
        after = page.next


def test_a_request_defaults_to_the_first_page_of_fifty() -> None:
    assert PageRequest.parse() == PageRequest(limit=DEFAULT_LIMIT, after=0)
    assert PageRequest.parse(limit=MAX_LIMIT, after="42") == PageRequest(limit=MAX_LIMIT, after=42)


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_a_limit_out_of_range_is_refused_with_its_field(limit: int) -> None:
    with pytest.raises(Unprocessable) as refused:
        PageRequest.parse(limit=limit)
    assert refused.value.status == 422
    assert refused.value.field == "limit"
    assert str(MAX_LIMIT) in refused.value.message


@pytest.mark.parametrize("cursor", ["", "abc", "-1", "1.5", "1" * 19, " 7"])
def test_a_malformed_cursor_is_refused_with_its_field(cursor: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        PageRequest.parse(after=cursor)
    assert refused.value.status == 422
    assert refused.value.field == "after"


@pytest.mark.parametrize("rows", [0, 1, 6, 7])
def test_a_walk_sees_every_row_exactly_once_whatever_the_page_size(session: Session, rows: int) -> None:
    for number in range(rows):
        issue_partner_key(session=session, name=f"Partner {number}", scopes=[])
    ids = sorted(session.scalars(select(Partner.id)))
    for limit in range(1, 9):
        pages = walk(session, select(Partner), limit)
        assert [row for page in pages for row in page] == ids, limit
        assert all(len(page) == limit for page in pages[:-1]), limit
        assert len(pages) == max(1, -(-rows // limit)), limit  # no empty page after a full last one


def test_a_row_added_between_pages_is_neither_skipped_nor_repeated(session: Session) -> None:
    for number in range(4):
        issue_partner_key(session=session, name=f"Partner {number}", scopes=[])
    first = fetch(session, select(Partner), Partner.id, PageRequest(limit=2))
    issue_partner_key(session=session, name="Late partner", scopes=[])
    rest = walk_from(session, first.next)
    seen = [partner.name for partner in first.items] + rest
    assert seen == ["Partner 0", "Partner 1", "Partner 2", "Partner 3", "Late partner"]


def test_a_cursor_past_the_largest_id_is_an_empty_last_page(session: Session) -> None:
    issue_partner_key(session=session, name="Partner", scopes=[])
    page = fetch(session, select(Partner), Partner.id, PageRequest.parse(limit=2, after="9" * 18))
    assert (page.items, page.next) == ([], None)


def walk_from(session: Session, after: str | None) -> list[str]:
    names: list[str] = []
    while after is not None:
        page = fetch(session, select(Partner), Partner.id, PageRequest.parse(limit=2, after=after))
        names += [partner.name for partner in page.items]
        after = page.next
    return names


def test_map_keeps_the_cursor() -> None:
    assert Page(items=[1, 2], next="2").map(str) == Page(items=["1", "2"], next="2")


@pytest.fixture
def list_client() -> TestClient:
    """A route taking the convention's parameters and one filter of its own."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/rows")
    def rows(page: PageRequestDep, status: str = "open") -> dict[str, object]:
        return {"limit": page.limit, "after": page.after, "status": status}

    return TestClient(app)


def test_a_route_reads_limit_and_after_from_the_query(list_client: TestClient) -> None:
    assert list_client.get("/rows").json() == {"limit": DEFAULT_LIMIT, "after": 0, "status": "open"}
    answered = list_client.get("/rows", params={"limit": 3, "after": "17", "status": "closed"})
    assert answered.json() == {"limit": 3, "after": 17, "status": "closed"}


@pytest.mark.parametrize(
    ("params", "location"),
    [({"after": "abc"}, "query.after"), ({"limit": 0}, "query.limit"), ({"limit": "x"}, "query.limit")],
)
def test_a_bad_limit_or_cursor_in_the_query_is_a_422_naming_it(
    list_client: TestClient, params: dict, location: str
) -> None:
    refused = list_client.get("/rows", params=params)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [error["location"] for error in refused.json()["errors"]] == [location]


def test_an_unknown_query_parameter_is_refused_not_ignored(list_client: TestClient) -> None:
    refused = list_client.get("/rows", params={"stauts": "closed"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "stauts: not a parameter of this list; it takes after, limit, status"
