"""The queue of cycles: awaiting approval by default, filtered by state and programme, paginated, blind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.registry import Ports
from ....tests.queue_pages import assert_refused_at, walk_pages
from .. import programme_service
from ..models import Cycle, CycleState
from ..scopes import PROGRAMME_SCOPE, READ_SCOPE
from .factories import MAKER, enrolled_programme

pytestmark = pytest.mark.country_independent  # a queue's filters and pages are the same in every country

URL = "/payments/cycles"


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return api_headers(READ_SCOPE)


def build(session: Session, ports: Ports, country: LoadedCountry, count: int, code: str = "QUEUE-PROG") -> list[int]:
    """The ids of `count` cycles built for one programme, oldest first."""
    programme = enrolled_programme(session, ports, country, count=3, code=code)
    built = [
        programme_service.create_cycle(
            session=session,
            ports=ports,
            country=country,
            programme=programme,
            name=f"round-{number}",
            as_of=date(2026, 1, 1),
            funding_account="TREASURY",
            chunk_size=100,
            maker=MAKER,
        ).record
        for number in range(count)
    ]
    session.commit()
    return [cycle.id for cycle in built]


walk = partial(walk_pages, url=URL)


def test_the_queue_lists_built_cycles_without_their_totals(
    client: TestClient, headers: dict, session: Session, ports: Ports, country: LoadedCountry
) -> None:
    waiting, approved = build(session, ports, country, 2)
    session.get_one(Cycle, approved).state = CycleState.APPROVED  # however it got there: approval is not tested here
    session.commit()
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert item["id"] == waiting
    assert item["programme"] == "QUEUE-PROG"
    assert item["name"] == "round-0"
    assert item["state"] == "built"
    # The approver re-enters the count and sum blind: the queue must not show them.
    assert not {"instruction_count", "instruction_sum", "control_count", "control_sum"} & set(item)
    assert walk(client, headers, 50, status="approved") == [[approved]]
    assert walk(client, headers, 50, status="disbursed") == [[]]


def test_the_programme_filter_keeps_one_programmes_cycles(
    client: TestClient, headers: dict, session: Session, ports: Ports, country: LoadedCountry
) -> None:
    first = build(session, ports, country, 2, code="FIRST-PROG")
    second = build(session, ports, country, 1, code="SECOND-PROG")
    assert walk(client, headers, 50, programme="FIRST-PROG") == [first]
    assert walk(client, headers, 50, programme="SECOND-PROG") == [second]
    assert walk(client, headers, 50, programme="NO-SUCH-PROG") == [[]]


@pytest.mark.parametrize("count", [0, 1, 5])
def test_pages_walk_every_cycle_exactly_once(
    client: TestClient, headers: dict, session: Session, ports: Ports, country: LoadedCountry, count: int
) -> None:
    ids = build(session, ports, country, count)
    for limit in (1, 2, 3, 5, 6):
        pages = walk(client, headers, limit)
        assert [item for page in pages for item in page] == ids, limit
        assert all(len(page) == limit for page in pages[:-1]), limit


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "-3"}, "query.after"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"status": "waiting"}, "query.status"),
        ({"programme": "lower-case"}, "query.programme"),
    ],
)
def test_a_bad_cursor_limit_status_or_programme_is_refused_with_its_field(
    client: TestClient, headers: dict, params: dict, field: str
) -> None:
    assert_refused_at(client.get(URL, params=params, headers=headers), field)


def test_the_queue_needs_the_read_scope(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> None:
    assert client.get(URL, headers=api_headers(PROGRAMME_SCOPE)).status_code == 403
    assert client.get(URL).status_code == 401
