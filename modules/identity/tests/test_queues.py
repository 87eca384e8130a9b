"""The queue of held enrolments: each beside its candidates, filtered by region and day, paginated."""

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from ....tests.queue_pages import assert_refused_at, walk_pages
from ..models import Enrolment
from .conftest import ADDRESS, LEVELS
from .test_enrolment import enrolment

URL = "/identity/enrolments/held"


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return api_headers("identity:enrol", "identity:read", "identity:admin")


def hold(client: TestClient, headers: dict, count: int, **changes: object) -> list[str]:
    """`count` applications held as possible duplicates of Amina Wanjiru (enrolled first if need be)."""
    client.post("/identity/enrolments", json=enrolment(address=ADDRESS), headers=headers)
    held = []
    for number in range(count):
        application_id = f"held-{len(changes)}-{number:04d}"
        response = client.post(
            "/identity/enrolments", json=enrolment(application_id, given_name="Amina ", **changes), headers=headers
        )
        assert response.status_code == 202, response.text
        held.append(application_id)
    return held


walk = partial(walk_pages, url=URL, key="application_id")


def test_a_held_enrolment_is_listed_beside_its_candidate(client: TestClient, headers: dict) -> None:
    issued = client.post("/identity/enrolments", json=enrolment(address=ADDRESS), headers=headers).json()
    client.post("/identity/enrolments", json=enrolment("app-00000002", given_name="Amina ", sex="M"), headers=headers)
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert response.json()["next"] is None
    assert item["application_id"] == "app-00000002"
    assert item["application"]["given_name"] == "Amina"
    assert item["application"]["sex"] == "M"
    assert item["application"]["date_of_birth"] == "1985-04-12"
    (candidate,) = item["candidates"]
    assert candidate["national_id"] == issued["national_id"]
    assert candidate["given_name"] == "Amina"
    assert candidate["sex"] == "F"
    assert candidate["address"] == ADDRESS
    assert candidate["name_score"] == 100
    assert datetime.fromisoformat(item["received_at"]).tzinfo is not None


def test_issued_and_adjudicated_enrolments_leave_the_queue(client: TestClient, headers: dict, api_headers) -> None:
    first, second = hold(client, headers, 2)
    for _ in range(2):  # four-eyes: two adjudicators other than the enrolling partner
        adjudicator = api_headers("identity:admin")
        client.post(f"/identity/enrolments/{first}/adjudication", json={"decision": "issue"}, headers=adjudicator)
    assert walk(client, headers, 50) == [[second]]


@pytest.mark.parametrize("count", [0, 1, 5])
def test_pages_walk_every_held_enrolment_exactly_once(client: TestClient, headers: dict, count: int) -> None:
    held = hold(client, headers, count)
    for limit in (1, 2, 3, 5, 6):
        pages = walk(client, headers, limit)
        assert [item for page in pages for item in page] == held, limit
        assert all(len(page) == limit for page in pages[:-1]), limit


def test_the_region_filter_reads_the_first_address_level(client: TestClient, headers: dict) -> None:
    capital = hold(client, headers, 2, address=ADDRESS)
    elsewhere = hold(client, headers, 1, address={LEVELS[0]: "Coast"}, phone=None)
    assert walk(client, headers, 50, region="Capital") == [capital]
    assert walk(client, headers, 50, region="Coast") == [elsewhere]
    assert walk(client, headers, 50, region="Nowhere") == [[]]


def test_the_since_filter_keeps_enrolments_received_that_day_or_later(
    client: TestClient, headers: dict, session: Session
) -> None:
    old, recent = hold(client, headers, 2)
    for application_id, received in (
        (old, datetime(2026, 1, 31, 23, tzinfo=UTC)),
        (recent, datetime(2026, 2, 1, tzinfo=UTC)),
    ):
        session.execute(update(Enrolment).where(Enrolment.application_id == application_id).values(created_at=received))
    session.commit()
    assert walk(client, headers, 50, since="2026-02-01") == [[recent]]
    assert walk(client, headers, 50, since="2026-01-31") == [[old, recent]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "not-a-cursor"}, "query.after"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"since": "2026-02-30"}, "query.since"),
    ],
)
def test_a_bad_cursor_limit_or_date_is_refused_with_its_field(
    client: TestClient, headers: dict, params: dict, field: str
) -> None:
    assert_refused_at(client.get(URL, params=params, headers=headers), field)


def test_the_queue_needs_the_admin_scope(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> None:
    assert client.get(URL, headers=api_headers("identity:read", "identity:enrol")).status_code == 403
    assert client.get(URL).status_code == 401
