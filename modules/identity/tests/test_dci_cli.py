"""`identity dci subscribe`, `subscriptions`, `unsubscribe` against the test registry on 127.0.0.1 (dci_registry.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from ....cli import app as cli_app
from ....core.db import make_session_factory
from .. import cli as identity_cli
from ..models import DciRegistry, DciSubscription
from .conftest import Relying
from .dci_registry import Registry, registry_server
from .test_dci import REGISTRY, post_signed, subscriptions

OUR_URL = "https://id.example.gov"
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The subscriptions table whole: the module's console was sized when imported (80 columns without a terminal)."""
    monkeypatch.setattr(identity_cli, "console", Console(width=240))


def invoke(*args: str):
    return runner.invoke(cli_app, ["identity", "dci", *args], catch_exceptions=False)


def subscribe(registry: Registry, folder: Path, *options: str):
    """`identity dci subscribe` to the registry, with its public keys from a JWKS file."""
    keys = folder / "registry-jwks.json"
    keys.write_text(json.dumps(registry.jwks()), encoding="utf-8")
    command = ("subscribe", "--registry", registry.name, "--url", registry.url, "--our-url", OUR_URL)
    return invoke(*command, "--jwks-file", str(keys), *options)


def listed_rows(output: str) -> list[list[str]]:
    """The body rows of the `subscriptions` table, each as its cells."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]


def nothing_stored(engine: Engine) -> bool:
    with make_session_factory(engine)() as session:
        return not session.scalars(select(DciRegistry)).all() and not session.scalars(select(DciSubscription)).all()


def test_subscribe_list_and_unsubscribe(
    client: TestClient, engine: Engine, cli_on_test_database: Path, civil_registry: Relying
) -> None:
    with registry_server(REGISTRY) as registry:
        registry.our_jwks = client.get("/.well-known/jwks.json").json()
        made = subscribe(registry, cli_on_test_database)
        assert made.exit_code == 0, made.output
        assert made.stdout.splitlines() == [
            f"subscription to death at {REGISTRY}: requested",
            f"subscription to live_birth at {REGISTRY}: requested",
        ]
        assert listed_rows(invoke("subscriptions").stdout) == [
            [REGISTRY, registry.url, "death", "requested", "", ""],
            [REGISTRY, registry.url, "live_birth", "requested", "", ""],
        ]
        (request,) = registry.received
        post_signed(client, civil_registry, "/registry/on-subscribe", registry.signed(registry.on_subscribe(request)))
        (_, _, death_code), (_, _, birth_code) = subscriptions(engine)
        listed = invoke("subscriptions")
        assert listed.exit_code == 0, listed.output
        assert listed_rows(listed.stdout) == [
            [REGISTRY, registry.url, "death", "subscribed", death_code, ""],
            [REGISTRY, registry.url, "live_birth", "subscribed", birth_code, ""],
        ]

        ended = invoke("unsubscribe", "--registry", REGISTRY, "--events", "death")
        assert ended.exit_code == 0, ended.output
        assert ended.stdout.splitlines() == [f"subscription to death at {REGISTRY}: unsubscribing"]
        stop = registry.received[-1]
        assert stop["header"]["action"] == "unsubscribe" and stop["message"]["subscription_codes"] == [death_code]
        post_signed(client, civil_registry, "/registry/on-unsubscribe", registry.signed(registry.on_unsubscribe(stop)))
    assert [row[2:4] for row in listed_rows(invoke("subscriptions").stdout)] == [
        ["death", "unsubscribed"],
        ["live_birth", "subscribed"],
    ]
    unknown = invoke("unsubscribe", "--registry", "unknown.example.org")
    assert unknown.exit_code == 1
    assert "registry: no registry 'unknown.example.org': subscribe to it first" in unknown.output


def test_an_unreachable_registry_exits_1_naming_its_url_and_nothing_is_stored(
    client: TestClient, engine: Engine, cli_on_test_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with registry_server(REGISTRY) as registry:
        registry.our_jwks = client.get("/.well-known/jwks.json").json()
    # The server is closed: nothing listens at its URL any more.
    refused = subscribe(registry, cli_on_test_database)
    assert refused.exit_code == 1
    assert f"{registry.url}/registry/subscribe could not be reached: ConnectError" in refused.output, refused.output
    assert nothing_stored(engine)
    assert listed_rows(invoke("subscriptions").stdout) == []

    monkeypatch.setenv("NATION_STACK_LOCALE", "fr")
    in_french = subscribe(registry, cli_on_test_database)
    assert in_french.exit_code == 1
    assert f"{registry.url}/registry/subscribe est injoignable\u00a0: ConnectError" in in_french.output
    assert nothing_stored(engine)


def test_a_bad_events_value_is_refused_naming_the_field_and_nothing_is_sent(
    client: TestClient, engine: Engine, cli_on_test_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with registry_server(REGISTRY) as registry:
        registry.our_jwks = client.get("/.well-known/jwks.json").json()
        refused = subscribe(registry, cli_on_test_database, "--events", "death,marriage")
        assert refused.exit_code == 1
        assert "events: one or more of death, live_birth" in refused.output, refused.output
        monkeypatch.setenv("NATION_STACK_LOCALE", "ja")
        in_japanese = subscribe(registry, cli_on_test_database, "--events", "")
        assert in_japanese.exit_code == 1
        assert "events: death, live_birth のうち 1 つ以上" in in_japanese.output, in_japanese.output
        assert registry.received == []
    assert nothing_stored(engine)
