"""The audit viewer's API: who did what to what, page by page, and whether the chain holds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from ..core import audit
from ..core.audit_api import AUDIT_SCOPE
from ..core.db import make_session_factory
from ..core.models import AuditEvent

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country

Headers = Callable[..., dict[str, str]]
EVENTS = [
    ("staff:amina (core.auditor)", "approval.given", "cycle:1"),
    ("staff:amina (core.administrator)", "approval.given", "cycle:2"),
    ("staff:aminata (core.auditor)", "approval.given", "cycle:1"),
    ("partner:Bank A", "transfer.committed", "cycle:1"),
    ("staff:amina", "staff.signed_in", "staff:amina"),
]


@pytest.fixture
def logged(engine: Engine) -> list[int]:
    with make_session_factory(engine).begin() as session:
        return [
            audit.record(session=session, actor=actor, action=action, subject=subject, detail={"n": n}).id
            for n, (actor, action, subject) in enumerate(EVENTS)
        ]


def events(client: TestClient, headers: dict[str, str], **query: str | int) -> dict:
    response = client.get("/audit/events", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_person_is_found_whatever_the_role_and_never_by_a_longer_name(
    client: TestClient, api_headers: Headers, logged: list[int]
) -> None:
    headers = api_headers(AUDIT_SCOPE)
    found = events(client, headers, person="staff:amina")["items"]
    assert [item["id"] for item in found] == [logged[0], logged[1], logged[4]]
    assert found[0]["actor"] == "staff:amina (core.auditor)" and found[0]["detail"] == {"n": 0}


def test_action_and_subject_filter_and_combine(client: TestClient, api_headers: Headers, logged: list[int]) -> None:
    headers = api_headers(AUDIT_SCOPE)
    assert [i["id"] for i in events(client, headers, action="approval.given", subject="cycle:1")["items"]] == [
        logged[0],
        logged[2],
    ]
    assert [i["id"] for i in events(client, headers, subject="cycle:1")["items"]] == [logged[0], logged[2], logged[3]]
    assert events(client, headers, person="partner:Bank", action="transfer.committed")["items"] == []


def test_pages_walk_every_event_once(
    client: TestClient, api_headers: Headers, logged: list[int], engine: Engine
) -> None:
    headers = api_headers(AUDIT_SCOPE)  # issuing the key is an event too
    seen: list[int] = []
    query: dict[str, str | int] = {"limit": 2}
    while True:
        page = events(client, headers, **query)
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        query = {"limit": 2, "after": page["next"]}
    with engine.connect() as connection:
        assert seen == list(connection.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    assert set(logged) <= set(seen)


def test_the_log_needs_the_auditors_scope(client: TestClient, api_headers: Headers, logged: list[int]) -> None:
    assert client.get("/audit/events").status_code == 401
    assert client.get("/audit/events", headers=api_headers("meta:read")).status_code == 403
    assert client.get("/audit/verification", headers=api_headers("meta:read")).status_code == 403


def test_a_misspelt_filter_is_refused_not_ignored(client: TestClient, api_headers: Headers) -> None:
    response = client.get("/audit/events", params={"persn": "staff:amina"}, headers=api_headers(AUDIT_SCOPE))
    assert response.status_code == 422
    assert "persn" in response.text


def test_verification_reports_an_intact_chain_and_where_an_edit_broke_it(
    client: TestClient, api_headers: Headers, logged: list[int], engine: Engine
) -> None:
    headers = api_headers(AUDIT_SCOPE)
    intact = client.get("/audit/verification", headers=headers).json()
    assert intact["intact"] is True and intact["first_broken_id"] is None
    assert intact["events"] >= len(logged)

    with engine.begin() as connection:
        connection.execute(update(AuditEvent).where(AuditEvent.id == logged[2]).values(detail={"n": 99}))
    broken = client.get("/audit/verification", headers=headers).json()
    assert broken["intact"] is False and broken["first_broken_id"] == logged[2]
