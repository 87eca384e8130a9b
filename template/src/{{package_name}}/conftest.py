"""Fixtures for the core's and every module's tests.

Tests run on SQLite by default. With TEST_DATABASE_URL pointing at a PostgreSQL
server, each run creates its own database there and drops it afterwards, so
parallel runs never collide.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, delete, insert, make_url, text
from sqlalchemy.orm import Session

from .app import create_app
from .core import audit, migrate, staff
from .core.approvals import Signatory, required_for
from .core.audit import GENESIS_HASH
from .core.country import LoadedCountry
from .core.db import Base, make_engine, make_session_factory
from .core.deps import STAFF_COOKIE
from .core.models import AuditHead
from .core.ports import ResidentSessions
from .core.registry import Ports, installed_modules
from .core.runtime import Runtime, build_runtime
from .core.security import PARTNER_KEY_ACTION, approve_partner_key, issue_partner_key
from .core.settings import Settings, get_settings
from .core.web.access import RESIDENT_COOKIE
from .tests import browser as real_browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET = "r39Ts21ql4doCYaS-iwsF9Llt6hbqIrY4jlb54mfwEQ"  # noqa: S105 - fixed key for tests only (passes the strength rule)
# A module's test data for country.yml sections, laid over the deployment's profile for the test run.
MODULE_TEST_PROFILE = Path("tests") / "country.yml"
CORE_TESTS = Path(__file__).resolve().parent / "tests"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: it reads the marker given here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the core's own tests `core`, by where they live, so a run can choose them as a whole."""
    for item in items:
        if item.path.is_relative_to(CORE_TESTS):
            item.add_marker(pytest.mark.core)


def profile_for_tests() -> str:
    """The deployment's country.yml with each installed module's test sections laid over it.

    Tests must pass in any country, including one whose profile lacks data a module's tests
    need (a custom country has no income-tax law until the ministry enters it). Such a module
    ships that data as `tests/country.yml`; each key of its sections replaces the deployment's
    key. The deployment's own figures are tested against its own profile elsewhere (the tax
    cases), not assumed here.
    """
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    for module in installed_modules():
        overlay = module.folder / MODULE_TEST_PROFILE
        if overlay.is_file():
            for section, values in yaml.safe_load(overlay.read_text(encoding="utf-8")).items():
                profile.setdefault(section, {}).update(values)
    return yaml.safe_dump(profile, allow_unicode=True, sort_keys=False)


@pytest.fixture(scope="session", autouse=True)
def light_password_hashing() -> Iterator[None]:
    """Argon2id at the lowest cost for the test run: a suite hashes and verifies dozens of passwords.

    Deployments keep argon2-cffi's defaults (RFC 9106's low-memory parameters, ~50 ms a hash), which
    is their point; test_staff checks what is stored at rest is Argon2id all the same.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield


@pytest.fixture(scope="session")
def test_country_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The country.yml every test runs with (see `profile_for_tests`)."""
    path = tmp_path_factory.mktemp("profile") / "country.yml"
    path.write_text(profile_for_tests(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    if not server_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, test_country_profile: Path) -> Settings:
    settings = Settings(
        environment="test",
        database_url=database_url,
        secret_key=TEST_SECRET,
        country_profile=test_country_profile,
    )
    audit.configure(TEST_SECRET)  # what build_runtime does: key the audit chain
    return settings


@pytest.fixture(scope="session")
def migrated_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def empty_database(engine: Engine) -> None:
    """Every table emptied, the audit chain reset to genesis: as a test found the database."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
        connection.execute(insert(AuditHead).values(id=1, last_hash=GENESIS_HASH, last_event_id=0))


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after each test (the audit chain reset to genesis)."""
    yield migrated_engine
    empty_database(migrated_engine)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture(scope="session")
def runtime(settings: Settings, migrated_engine: Engine) -> Runtime:
    """What the app and the CLI build from the test settings, on the migrated test database."""
    return replace(
        build_runtime(settings), engine=migrated_engine, session_factory=make_session_factory(migrated_engine)
    )


@pytest.fixture(scope="session")
def country(runtime: Runtime) -> LoadedCountry:
    return runtime.country


@pytest.fixture(scope="session")
def ports(runtime: Runtime) -> Ports:
    return runtime.ports


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    # Tests assert English messages whatever the profile's locale (ja_JP answers in Japanese).
    # https: the pages' cookies are Secure outside development, and a client over http would drop them.
    with TestClient(
        create_app(settings), base_url="https://testserver", headers={"Accept-Language": "en"}
    ) as test_client:
        yield test_client


@pytest.fixture
def api_headers(engine: Engine, settings: Settings) -> Callable[..., dict[str, str]]:
    """Issue a partner key with the given scopes and return the request headers carrying it.

    A key with a money scope is then approved, through the real four-eyes path, by as many test
    operators as the settings require, so the key works as the tests need it.
    """
    required = required_for(settings.approvals_required, PARTNER_KEY_ACTION)

    def issue(*scopes: str) -> dict[str, str]:
        with make_session_factory(engine).begin() as session:
            issued = issue_partner_key(session=session, name="Test partner", scopes=scopes)
            for number in range(required if issued.partner.awaiting_approval else 0):
                approver = Signatory.operator(f"test-approver-{number + 1}")
                approve_partner_key(session=session, partner_id=issued.partner.id, approver=approver, required=required)
        return {"X-API-Key": issued.key}

    return issue


STAFF_PASSWORD = "a long enough staff password"  # noqa: S105 - test accounts only


@pytest.fixture
def staff_headers(engine: Engine, settings: Settings) -> Callable[..., dict[str, str]]:
    """A new staff account granted `role` (in each of `regions`, or everywhere); the headers of its bearer session."""
    accounts = iter(range(1, 10_000))

    def sign_in(role: str, *regions: str) -> dict[str, str]:
        user_name = f"{role.replace('_', '-')}-{next(accounts)}"
        with make_session_factory(engine).begin() as session:
            account = staff.create_account(
                session=session, user_name=user_name, display_name=role, password=STAFF_PASSWORD
            )
            for region in regions or (None,):
                staff.grant_role(session=session, user_name=user_name, role=role, region=region)
            opened = staff.open_session(session=session, account=account, kind="bearer", settings=settings)
        return {"Authorization": f"Bearer {opened.token}"}

    return sign_in


@pytest.fixture
def staff_cookies(engine: Engine, settings: Settings) -> Callable[..., dict[str, str]]:
    """A new staff account granted `role` (in each of `regions`, or everywhere); the cookies of its browser session."""
    accounts = iter(range(1, 10_000))

    def sign_in(role: str, *regions: str) -> dict[str, str]:
        user_name = f"{role.replace('_', '-')}-page-{next(accounts)}"
        with make_session_factory(engine).begin() as session:
            account = staff.create_account(
                session=session, user_name=user_name, display_name=role, password=STAFF_PASSWORD
            )
            for region in regions or (None,):
                staff.grant_role(session=session, user_name=user_name, role=role, region=region)
            opened = staff.open_session(session=session, account=account, kind="cookie", settings=settings)
        return {STAFF_COOKIE: opened.token}

    return sign_in


@pytest.fixture
def resident_cookies(engine: Engine, runtime: Runtime) -> Callable[[str], dict[str, str]]:
    """The cookies of a resident portal session for a registered person (skips without resident pages)."""

    def sign_in(national_id: str) -> dict[str, str]:
        sessions = runtime.ports.get(ResidentSessions)
        if sessions is None:
            pytest.skip("no installed module provides resident sessions")
        with make_session_factory(engine).begin() as session:
            return {RESIDENT_COOKIE: sessions.open(session=session, national_id=national_id)}

    return sign_in


def form_token(client: TestClient, path: str = "/console/sign-in") -> str:
    """The CSRF token of the forms on `path` (the client keeps the cookie it belongs to)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, f"no form token on {path}"
    return found.group(1)


# ---------------------------------------------------------------- real-browser tests (tests/browser.py)


@pytest.fixture(scope="session")
def live_server(settings: Settings, migrated_engine: Engine) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (a free port, a thread) on the test database; its base URL."""
    with real_browser.serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def chromium() -> Iterator[real_browser.WebDriver]:
    """One headless Chromium for the whole run (starting one takes about a second).

    Without /usr/bin/chromium and /usr/bin/chromedriver the browser tests skip, saying so; with
    NATION_STACK_REQUIRE_BROWSER set (CI) they fail instead.
    """
    missing = real_browser.chromium_missing()
    if missing:
        if os.environ.get(real_browser.REQUIRE_BROWSER):
            pytest.fail(f"{missing}; {real_browser.REQUIRE_BROWSER} is set, so the browser tests must run")
        pytest.skip(missing)
    driver = real_browser.start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: real_browser.WebDriver, live_server: str, engine: Engine) -> real_browser.Browser:
    """The shared Chromium on the live server, without cookies; the database is emptied after the test."""
    shown = real_browser.Browser(chromium, live_server)
    shown.clear_cookies()
    return shown


@pytest.fixture
def cli_on_test_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_country_profile: Path, settings: Settings, engine: Engine
) -> Iterator[Path]:
    """The CLI pointed at the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL), emptied after."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COUNTRY_PROFILE", str(test_country_profile))
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")
    monkeypatch.setenv("AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture(params=["DATABASE_URL", "country.yml"])
def bad_configuration(
    request: pytest.FixtureRequest, cli_on_test_database: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The CLI's environment with one mistake an operator makes (an unparsable database URL, a
    currency that does not exist); returns what the one-line error must name."""
    if request.param == "DATABASE_URL":
        monkeypatch.setenv("DATABASE_URL", "not-a-database-url")
        return "DATABASE_URL"
    broken = cli_on_test_database / "country.yml"
    broken.write_text(profile_for_tests().replace("currency:", "currency: XYZ #", 1), encoding="utf-8")
    monkeypatch.setenv("COUNTRY_PROFILE", str(broken))
    return "currency: 'XYZ' is not an ISO 4217 currency code"
