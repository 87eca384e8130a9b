"""Finding 11: partner keys can be listed, revoked, rotated and made to expire, each audited with
the operator; the API documents are not public in production."""

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from ..app import create_app
from ..cli import app
from ..core import audit
from ..core.db import make_engine, make_session_factory
from ..core.models import AuditEvent, Partner
from ..core.settings import Settings, get_settings
from ..core.system import META_SCOPE

# depends on which modules are installed; reads no country data (runs once per combination, not per country)
pytestmark = [pytest.mark.selection, pytest.mark.country_independent]

runner = CliRunner()


@pytest.fixture
def cli_env(cli_on_test_database: Path) -> Path:
    assert invoke("db", "upgrade").exit_code == 0
    return cli_on_test_database


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def api(cli_env: Path) -> Iterator[TestClient]:
    with TestClient(create_app(get_settings()), headers={"Accept-Language": "en"}) as client:
        yield client


@pytest.fixture
def db(cli_env: Path) -> Iterator[Engine]:
    engine = make_engine(os.environ["DATABASE_URL"])
    yield engine
    engine.dispose()


def create(*extra: str) -> str:
    result = invoke("partner", "create", "--name", "Bank", "--scope", META_SCOPE, "--actor", "alice", *extra)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def partner_events(engine: Engine) -> list[AuditEvent]:
    with make_session_factory(engine)() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action.like("partner.%")).order_by(AuditEvent.id))
        )


def meta(api: TestClient, key: str):
    return api.get("/meta", headers={"X-API-Key": key})


def test_list_shows_each_partner_without_its_key(api: TestClient, db: Engine) -> None:
    key = create("--expires-in-days", "30")
    listed = invoke("partner", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    prefix = key.split("_")[1]
    assert (row["name"], row["prefix"], row["scopes"], row["active"]) == ("Bank", prefix, [META_SCOPE], True)
    assert row["created_at"] and row["expires_at"]
    expires = datetime.fromisoformat(row["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert key not in listed.output
    table = invoke("partner", "list")
    assert table.exit_code == 0 and prefix in table.output and "Bank" in table.output


def test_revoke_invalidates_the_key_at_once_and_is_audited(api: TestClient, db: Engine) -> None:
    key = create()
    assert meta(api, key).status_code == 200
    partner_id = json.loads(invoke("partner", "list", "--json").stdout)[0]["id"]
    revoked = invoke("partner", "revoke", str(partner_id), "--actor", "bob")
    assert revoked.exit_code == 0, revoked.output
    answer = meta(api, key)
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    assert [(e.action, e.actor) for e in partner_events(db)] == [
        ("partner.created", "operator:alice"),
        ("partner.revoked", "operator:bob"),
    ]
    assert invoke("partner", "revoke", "999").exit_code == 1  # an unknown partner is an error, not a no-op


def test_rotate_issues_a_new_key_and_the_old_one_stops_working(api: TestClient, db: Engine) -> None:
    old = create()
    partner_id = json.loads(invoke("partner", "list", "--json").stdout)[0]["id"]
    rotated = invoke("partner", "rotate", str(partner_id), "--actor", "carol")
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip().splitlines()[-1]
    assert new.startswith("nsk_") and new != old
    assert meta(api, new).status_code == 200
    assert meta(api, old).status_code == 401
    events = partner_events(db)
    assert (events[-1].action, events[-1].actor, events[-1].subject) == (
        "partner.rotated",
        "operator:carol",
        f"partner:{partner_id}",
    )
    assert new not in json.dumps(events[-1].detail) and old not in json.dumps(events[-1].detail)
    with make_session_factory(db)() as session:
        assert audit.verify_chain(session=session).intact


def test_an_expired_key_answers_401_expired(api: TestClient, db: Engine) -> None:
    key = create("--expires-in-days", "1")
    assert meta(api, key).status_code == 200
    with db.begin() as connection:
        connection.execute(update(Partner).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    answer = meta(api, key)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "expired" in answer.json()["detail"]


def test_expiry_must_be_a_positive_number_of_days(cli_env: Path) -> None:
    refused = invoke("partner", "create", "--name", "Bank", "--scope", META_SCOPE, "--expires-in-days", "0")
    assert refused.exit_code == 2


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_api_documents_are_not_public_in_production(settings: Settings, path: str, api_headers) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(production)) as client:
        assert client.get(path).status_code in (401, 404)
        if path == "/openapi.json":
            anonymous = client.get(path)
            assert anonymous.status_code == 401 and anonymous.json()["type"].endswith("/unauthenticated")
            with_key = client.get(path, headers=api_headers(META_SCOPE))
            assert with_key.status_code == 200 and with_key.json()["openapi"]
    with TestClient(create_app(settings)) as client:  # open in test (and development)
        assert client.get(path).status_code == 200
