"""Observability end to end: JSON log lines without personal data, request IDs, /metrics, the dashboard, the licence.

The whole journey (tests/journeys.py: every installed module's own step, through the real
server and CLI in subprocesses) runs on the test database; everything both wrote is searched for
the personal data the journey used, and /metrics is scraped before and after it.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine

from ..app import create_app
from ..conftest import PROJECT_ROOT, empty_database
from ..core.logs import REQUEST_ID_HEADER, bind_request_id, current_request_id
from ..core.registry import installed_modules
from ..core.runtime import Runtime
from ..core.settings import Settings
from ..core.stack import stack_info
from ..core.system import META_SCOPE
from .journeys import Journey, run_journey
from .serving import serving, stack_environment

# The machinery is the same in every country. The journey is each installed module's own step, given
# a national ID when identity is installed: a module alone and all modules together take both forms of
# every step (`each_module`); only the dashboard, which the generation assembles from the modules, runs
# per combination.
pytestmark = pytest.mark.country_independent

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "nation-stack.json"
SERIES_NAME = re.compile(r"\bnation_stack_[a-z0-9_]+")
REQUEST_ID_FIELD = re.compile(r'"request_id": "[^"]*"')
# A fresh connection per call: the server drops an idle one after 5 s, while a CLI step runs.
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


@dataclass
class Observed:
    journey: Journey
    taken: list[str]
    server_log: Path
    cli_log: Path
    before: dict[str, float]
    after: dict[str, float]


def scrape(http: httpx.Client, headers: dict[str, str] | None = None) -> dict[str, float]:
    """Every sample at /metrics as `name{label="value",...}` (labels sorted) -> value."""
    response = http.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[sample.name + "{" + labels + "}" if labels else sample.name] = sample.value
    return samples


def exported_families(exposition: str) -> dict[str, set[str]]:
    """Each family /metrics declares (with samples or not) and its series names: a histogram's `_bucket`,
    `_count` and `_sum`."""
    families = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split()
            families[name] = {f"{name}_bucket", f"{name}_count", f"{name}_sum"} if kind == "histogram" else {name}
    return families


@pytest.fixture(scope="module")
def observed(
    settings: Settings, migrated_engine: Engine, runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    """The whole journey on the real server and CLI, /metrics scraped before and after: once for this file's
    tests (it takes a while), the database emptied after them."""
    folder = tmp_path_factory.mktemp("journey")
    server_log, cli_log = folder / "server.log", folder / "cli.log"
    environment = stack_environment(settings, AUDIT_CHECKPOINT_DIR=str(folder / "checkpoints"))
    empty_database(migrated_engine)
    try:
        with (
            serving(environment, server_log) as base,
            httpx.Client(base_url=base, timeout=60, limits=NO_KEEPALIVE) as http,
        ):
            journey = Journey(http=http, engine=migrated_engine, runtime=runtime, environment=environment, log=cli_log)
            before = scrape(http)
            taken = run_journey(journey)
            journey.call("GET", "/health")
            journey.moves.add(
                'nation_stack_http_request_duration_seconds_count{method="GET",route="/health",status="200"}'
            )
            after = scrape(http)
        yield Observed(journey, taken, server_log, cli_log, before, after)
    finally:
        empty_database(migrated_engine)


@pytest.mark.each_module
def test_a_whole_journey_leaves_no_personal_data_in_any_log_line(observed: Observed) -> None:
    server = observed.server_log.read_text(encoding="utf-8")
    output = server + observed.cli_log.read_text(encoding="utf-8")
    # Every log line is JSON; the CLI's banner and the commands' own output are not log lines.
    lines = [json.loads(line) for line in server.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["event"] == "http.request"]
    assert len(requests) >= observed.journey.calls and all(len(line["request_id"]) == 32 for line in requests)
    assert not [line for line in requests if "{" not in line["route"] and any(c.isdigit() for c in line["route"])]
    personal = {text for text in observed.journey.personal if text}
    assert personal or not observed.taken, "the journey used no personal data: the test would prove nothing"
    leaks = [line for line in output.splitlines() if any(text.lower() in line.lower() for text in personal)]
    assert not leaks, f"{len(leaks)} lines carry personal data, e.g.:\n" + "\n".join(leaks[:5])
    without_ids = REQUEST_ID_FIELD.sub("", output)  # random hex: a code could show up in one by chance
    for code in observed.journey.codes:
        assert not re.search(rf"(?<!\d){re.escape(code)}(?!\d)", without_ids), "a one-time code reached the logs"


@pytest.mark.each_module
def test_the_journey_is_told_in_json_lines_by_the_server_and_the_cli(observed: Observed) -> None:
    output = observed.server_log.read_text(encoding="utf-8") + observed.cli_log.read_text(encoding="utf-8")
    events = {json.loads(line)["event"] for line in output.splitlines() if line.startswith("{")}
    assert observed.journey.events <= events, f"not logged: {sorted(observed.journey.events - events)}"


@pytest.mark.each_module
def test_module_events_carry_the_request_id_of_the_request_that_caused_them(observed: Observed) -> None:
    server = observed.server_log.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in server.splitlines() if line.startswith("{")]
    events = [line for line in lines if line["event"] != "http.request" and "request_id" in line]
    by_request = {line["request_id"]: line for line in lines if line["event"] == "http.request"}
    if observed.taken:
        assert events, "no module logged an event of its journey"
    for event in events:
        assert event["request_id"] in by_request, event


@pytest.mark.each_module
def test_the_journey_moves_the_metrics_it_names(observed: Observed) -> None:
    for series in sorted(observed.journey.moves):
        assert series in observed.after, f"{series} is not exported after the journey"
        before = observed.before.get(series)
        assert before is None or observed.after[series] > before, f"{series} did not move: {before}"
    routes = {key for key in observed.after if key.startswith("nation_stack_http_request_duration_seconds_count")}
    national_id = observed.journey.facts.get("national_id")
    assert not [route for route in routes if national_id and national_id in route]
    for name in ("nation_stack_licence_grant_valid", "nation_stack_job_lag_seconds"):
        assert any(key.split("{")[0] == name for key in observed.after), name


@pytest.mark.selection
def test_the_dashboard_names_only_series_the_stack_exports_and_every_one_of_them(client: TestClient) -> None:
    families = exported_families(client.get("/metrics").text)
    exported = set().union(*families.values())
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    named: set[str] = set()
    for expression in expressions:
        found = set(SERIES_NAME.findall(expression))
        assert found, f"names no series of the stack: {expression}"
        assert found <= exported, f"{expression}: {sorted(found - exported)} not exported"
        named |= found
    ours = [name for name in families if name.startswith("nation_stack_") and not name.endswith("_created")]
    unused = [name for name in ours if not families[name] & named]
    assert not unused, f"exported but on no panel: {unused}"


def test_a_well_formed_request_id_is_kept_and_anything_else_replaced(client: TestClient) -> None:
    given = str(uuid.uuid4())
    assert client.get("/health", headers={REQUEST_ID_HEADER: given}).headers[REQUEST_ID_HEADER] == given
    for malformed in ("5930172846", "Amina Wanjiru", "x" * 32, given + "0"):
        returned = client.get("/health", headers={REQUEST_ID_HEADER: malformed}).headers[REQUEST_ID_HEADER]
        assert returned != malformed and re.fullmatch(r"[0-9a-f]{32}", returned)
    first, second = (client.get("/health").headers[REQUEST_ID_HEADER] for _ in range(2))
    assert first != second


def test_an_unexpected_error_carries_the_request_id(settings: Settings, engine: Engine) -> None:
    app = create_app(settings)
    seen: list[str | None] = []

    @app.get("/test-only/boom")
    def boom() -> None:
        seen.append(current_request_id())
        raise RuntimeError("boom")

    given = uuid.uuid4().hex
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-only/boom", headers={REQUEST_ID_HEADER: given})
    assert response.status_code == 500 and response.headers[REQUEST_ID_HEADER] == given and seen == [given]


def test_a_job_carries_the_request_id_it_was_given() -> None:
    assert current_request_id() is None
    given = uuid.uuid4().hex
    bind_request_id(given)
    try:
        assert current_request_id() == given
        bind_request_id("Amina 5930172846")  # malformed: replaced, never logged
        assert current_request_id() not in (given, "Amina 5930172846")
    finally:
        bind_request_id(None)
    assert current_request_id() is None


def test_metrics_ask_for_the_token_when_one_is_set(settings: Settings, engine: Engine) -> None:
    protected = settings.model_copy(update={"metrics_token": SecretStr("a-scraper-token-of-some-length")})
    with TestClient(create_app(protected)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        allowed = client.get("/metrics", headers={"Authorization": "Bearer a-scraper-token-of-some-length"})
        assert allowed.status_code == 200 and "nation_stack_http_request_duration_seconds" in allowed.text


def tampered_licence(folder: Path, country: str) -> Path:
    """The deployment's licence folder with a grant whose signature is not the licensor's."""
    shutil.copytree(PROJECT_ROOT / "licence", folder)
    grant = {
        "grant_id": "G-TAMPERED",
        "licensor": "Nation Stack",
        "licensee": stack_info().licensee,
        "territories": [country],
        "modules": [module.name for module in installed_modules()],
        "valid_from": "2020-01-01",
        "valid_until": "2099-12-31",
        "template_versions": ">=0",
        "signature": "bm90IHRoZSBsaWNlbnNvcidzIHNpZ25hdHVyZQ==",
    }
    (folder / "grant.yml").write_text(yaml.safe_dump({"licence_grant": grant}), encoding="utf-8")
    return folder


def test_a_grant_that_fails_verification_is_reported_and_never_fatal(
    settings: Settings, engine: Engine, runtime: Runtime, api_headers, tmp_path: Path
) -> None:
    licence = tampered_licence(tmp_path / "licence", runtime.country.profile.country)
    log = tmp_path / "server.log"
    with (
        serving(stack_environment(settings, LICENCE_DIR=str(licence)), log) as base,
        httpx.Client(base_url=base, limits=NO_KEEPALIVE) as http,
    ):
        assert http.get("/health").status_code == 200
        meta = http.get("/meta", headers=api_headers(META_SCOPE))
        assert meta.status_code == 200, meta.text
        licence_status = meta.json()["licence"]
        assert licence_status["valid"] is False and licence_status["expires"] == "2099-12-31"
        assert "signature" in licence_status["problem"]
        samples = scrape(http)
    assert samples['nation_stack_licence_grant_valid{status="signature invalid"}'] == 0
    warnings = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if "licence.invalid" in line]
    assert warnings and warnings[0]["level"] == "warning" and "signature" in warnings[0]["problem"]
