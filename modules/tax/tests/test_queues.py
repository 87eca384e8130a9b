"""The queue of objections: awaiting a decision by default, filtered by state and TIN, paginated."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....tests.queue_pages import assert_refused_at, walk_pages
from .. import objections, tins
from ..scopes import DECIDE_SCOPE, READ_SCOPE
from .helpers import CHECKERS, LODGER
from .test_objections import an_assessment

pytestmark = pytest.mark.country_independent  # a queue's filters and pages are the same in every country

URL = "/tax/objections"


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return api_headers(DECIDE_SCOPE)


def lodge(session: Session, country: LoadedCountry, count: int) -> list[tuple[int, str]]:
    """(id, TIN) of `count` objections lodged by as many taxpayers, oldest first."""
    lodged = []
    for number in range(count):
        assessment = an_assessment(session, country, external_id=f"QUEUE-{number}")
        objection = objections.lodge(
            session=session,
            assessment_id=assessment.id,
            grounds="wrong income",
            claimed_income=0,
            country=country,
            maker=LODGER,
        )
        lodged.append((objection.id, objection.tin))
    session.commit()
    return lodged


walk = partial(walk_pages, url=URL)


def test_the_queue_lists_the_objections_awaiting_a_decision(
    client: TestClient, headers: dict, session: Session, country: LoadedCountry
) -> None:
    (lodged, _), (reviewed, _), (decided, tin) = lodge(session, country, 3)
    objections.review(session=session, objection_id=reviewed, actor="t")
    objections.review(session=session, objection_id=decided, actor="t")
    objections.decide(
        session=session,
        objection_id=decided,
        outcome="disallowed",
        income=None,
        note="n",
        country=country,
        approver=CHECKERS[0],
        required=1,
    )
    session.commit()
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    assert [(item["id"], item["state"]) for item in response.json()["items"]] == [
        (lodged, "lodged"),
        (reviewed, "under_review"),
    ]
    assert response.json()["items"][0]["grounds"] == "wrong income"
    assert walk(client, headers, 50, status="under_review") == [[reviewed]]
    assert walk(client, headers, 50, status="disallowed") == [[decided]]
    assert walk(client, headers, 50, status="allowed") == [[]]
    assert walk(client, headers, 50, status="disallowed", tin=tin) == [[decided]]


def test_the_tin_filter_keeps_one_taxpayers_objections(
    client: TestClient, headers: dict, session: Session, country: LoadedCountry
) -> None:
    (first, first_tin), (second, second_tin) = lodge(session, country, 2)
    assert walk(client, headers, 50, tin=first_tin) == [[first]]
    assert walk(client, headers, 50, tin=second_tin) == [[second]]
    unknown = tins.generate(len(first_tin))
    while unknown in (first_tin, second_tin):
        unknown = tins.generate(len(first_tin))
    assert walk(client, headers, 50, tin=unknown) == [[]]


@pytest.mark.parametrize("count", [0, 1, 5])
def test_pages_walk_every_objection_exactly_once(
    client: TestClient, headers: dict, session: Session, country: LoadedCountry, count: int
) -> None:
    ids = [objection_id for objection_id, _tin in lodge(session, country, count)]
    for limit in (1, 2, 3, 5, 6):
        pages = walk(client, headers, limit)
        assert [item for page in pages for item in page] == ids, limit
        assert all(len(page) == limit for page in pages[:-1]), limit


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "x1"}, "query.after"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"status": "pending"}, "query.status"),
    ],
)
def test_a_bad_cursor_limit_or_status_is_refused_with_its_field(
    client: TestClient, headers: dict, params: dict, field: str
) -> None:
    assert_refused_at(client.get(URL, params=params, headers=headers), field)


def test_a_tin_with_a_wrong_check_digit_is_refused_with_its_field(
    client: TestClient, headers: dict, session: Session, country: LoadedCountry
) -> None:
    ((_, tin),) = lodge(session, country, 1)
    wrong = tin[:-1] + str((int(tin[-1]) + 1) % 10)
    response = client.get(URL, params={"tin": wrong}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("tin: ")


def test_the_queue_needs_the_decide_scope(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> None:
    assert client.get(URL, headers=api_headers(READ_SCOPE)).status_code == 403
    assert client.get(URL).status_code == 401
