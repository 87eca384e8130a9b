"""Localisation: every message is in every shipped catalog; the API and CLI answer in the asked language."""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, field_validator
from typer.testing import CliRunner

from ..cli import app as cli_app
from ..conftest import TEST_SECRET
from ..core import i18n
from ..core.country import LoadedCountry
from ..core.deps import LocaleDep
from ..core.errors import install_problem_handlers
from ..core.money import Money
from ..core.registry import Catalogs, installed_modules
from ..core.settings import get_settings

pytestmark = pytest.mark.selection  # depends on which modules are installed

REQUIRED_LANGUAGES = ("en", "fr", "sw", "ja", "ar", "am", "hi", "rw", "so", "om", "ti", "aa")
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


def message_sources() -> list[tuple[Path, Catalogs, tuple[str, ...]]]:
    """(source folder, its catalogs, ignored patterns): the core, then each module folder.

    A module folder that translates messages but declares no catalogs is listed with the
    catalogs it would have, so the test names what is missing.
    """
    declared = {part.folder: part.catalogs for part in installed_modules() if part.catalogs is not None}
    sources = [(i18n.PACKAGE_ROOT, i18n.installed_catalogs()[0], ("modules/**", "tests/**", "conftest.py"))]
    for module in sorted(p for p in (i18n.PACKAGE_ROOT / "modules").iterdir() if (p / "__init__.py").is_file()):
        sources.append((module, declared.get(module, Catalogs(module / "locales")), ("tests/**",)))
    return sources


def test_every_module_that_translates_declares_its_catalogs() -> None:
    declared = {part.folder for part in installed_modules() if part.catalogs is not None}
    undeclared = [
        source.name for source, _c, ignored in SOURCES[1:] if source not in declared and extracted(source, ignored)
    ]
    assert not undeclared, f"Module(catalogs=...) missing in {undeclared}: their messages would stay in English"


@cache  # each source is read once per test process, not once per language and test
def extracted(source: Path, ignored: tuple[str, ...]) -> dict[str | tuple[str, ...], list[str]]:
    """Message id -> where it is used: Python sources (keywords _, gettext, ngettext, N_) and page templates."""
    method_map = [(pattern, "ignore") for pattern in ignored] + [("**.py", "python"), ("**.html", "jinja2")]
    found: dict[str | tuple[str, ...], list[str]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        source, method_map=method_map, keywords=KEYWORDS
    ):
        found.setdefault(message, []).append(f"{filename}:{line}")
    return found


def load(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def fields(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None}


SOURCES = message_sources()
CASES = [
    (source, catalogs, ignored, language)
    for source, catalogs, ignored in SOURCES
    for language in REQUIRED_LANGUAGES
    if source == i18n.PACKAGE_ROOT or extracted(source, ignored)
]


@pytest.mark.parametrize(
    ("source", "catalogs", "ignored", "language"),
    CASES,
    ids=[f"{source.name}-{language}" for source, _c, _i, language in CASES],
)
def test_every_message_has_a_translation_in_each_shipped_catalog(
    source: Path, catalogs: Catalogs, ignored: tuple[str, ...], language: str
) -> None:
    messages = extracted(source, ignored)
    path = catalogs.path(language)
    assert path.is_file(), f"{source.name} has messages but no {language} catalog at {path}"
    catalog = load(path)
    problems = []
    for message_id, used_at in messages.items():
        key = message_id[0] if isinstance(message_id, tuple) else message_id
        entry = catalog.get(key)
        ids = message_id if isinstance(message_id, tuple) else (message_id,)
        if entry is None:
            problems.append(f"missing: {key!r} ({', '.join(used_at)})")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(strings):
            problems.append(f"fuzzy or empty: {key!r}")
        if isinstance(message_id, tuple) and len(strings) != catalog.num_plurals:
            problems.append(f"{key!r} needs {catalog.num_plurals} plural forms, has {len(strings)}")
        expected = set().union(*(fields(text) for text in ids))
        for text in strings:
            if text and fields(text) != expected:
                problems.append(f"{key!r}: placeholders {sorted(fields(text))} differ from {sorted(expected)}")
    assert not problems, f"{path}:\n" + "\n".join(problems)


@pytest.mark.parametrize(("source", "catalogs", "ignored"), SOURCES, ids=[s.name for s, _c, _i in SOURCES])
def test_message_template_is_up_to_date(source: Path, catalogs: Catalogs, ignored: tuple[str, ...]) -> None:
    messages = {m[0] if isinstance(m, tuple) else m for m in extracted(source, ignored)}
    if not catalogs.template.is_file():
        assert not messages, f"{source.name} has messages but no {catalogs.template}"
        return
    template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in load(catalogs.template) if m.id}
    assert template == messages, "re-extract the template (docs/localisation.md)"


def test_shipped_languages() -> None:
    assert set(REQUIRED_LANGUAGES) <= set(i18n.shipped_languages())


def test_plural_forms_follow_each_language() -> None:
    singular, plural = "pending migration: {heads}", "pending migrations: {heads}"
    with i18n.use_locale("fr"):
        assert i18n.ngettext(singular, plural, 1).startswith("migration en attente")
        assert i18n.ngettext(singular, plural, 2).startswith("migrations en attente")
    with i18n.use_locale("ja_JP"):
        assert i18n.ngettext(singular, plural, 1) == i18n.ngettext(singular, plural, 5)
    assert i18n.ngettext(singular, plural, 2) == plural
    with i18n.use_locale("rw_RW"):
        assert i18n.ngettext(singular, plural, 1).startswith("ivugurura ritegereje")
        assert i18n.ngettext(singular, plural, 2).startswith("amavugurura ategereje")
    with i18n.use_locale("ti_ET"):  # CLDR: one is 0..1, so zero takes the singular
        assert i18n.ngettext(singular, plural, 0) == i18n.ngettext(singular, plural, 1)
        assert i18n.ngettext(singular, plural, 2).startswith("ዝጽበዩ ዘለዉ ምግዓዛት")


@pytest.mark.parametrize(
    ("count", "noun"),
    # Arabic has six CLDR plural categories: 3-10 take the plural noun, 11-99 the accusative
    # singular, 100 and above the genitive singular.
    [(3, "أحرف"), (10, "أحرف"), (11, "حرفًا"), (99, "حرفًا"), (100, " حرف"), (103, "أحرف")],
)
def test_arabic_plurals_follow_cldr(count: int, noun: str) -> None:
    singular = "String should have at least {min_length} character"
    plural = "String should have at least {min_length} characters"
    with i18n.use_locale("ar_JO"):
        text = i18n.ngettext(singular, plural, count).format(min_length=count)
    assert text.startswith("يجب ألا يقل طول السلسلة النصية")
    assert text.endswith(noun)


def test_unknown_message_passes_through_and_locale_is_restored() -> None:
    before = i18n.current_locale()
    with i18n.use_locale("sw_KE"):
        assert i18n.gettext("Not Found") == "Haikupatikana"
        assert i18n.gettext("a message nobody marked") == "a message nobody marked"
    assert i18n.current_locale() == before


@pytest.mark.parametrize(
    ("header", "fallback", "expected"),
    [
        ("fr", "en_KE", "fr"),
        ("fr-CA", "en_KE", "fr_CA"),
        ("sw", "en_KE", "sw_KE"),  # narrowed to the deployment's territory
        ("ja", "ja_JP", "ja_JP"),
        ("de, ja;q=0.9, fr;q=0.5", "en_KE", "ja"),
        ("fr;q=0, sw;q=0.3", "en_KE", "sw_KE"),
        ("de", "ja_JP", "ja_JP"),  # nothing shipped: the profile's locale
        ("de", "ar_JO", "ar_JO"),  # the profile's language is shipped
        ("de", "ko_KR", "en"),  # nor the profile's language: English
        ("ar-JO", "en_KE", "ar_JO"),
        ("ar", "ar_JO", "ar_JO"),
        ("hi", "en_IN", "hi_IN"),
        ("am", "en_KE", "am"),  # CLDR has no am_KE: the bare language
        ("", "en_KE", "en_KE"),
        (None, None, "en"),
        ("*", "sw_KE", "sw_KE"),
        ("not a tag;q=x, 12", "en_KE", "en_KE"),
        ("rw", "en_KE", "rw"),  # CLDR has no rw_KE: the bare language
        ("de", "rw_RW", "rw_RW"),  # Rwanda's profile language is shipped
        ("so", "am_ET", "so_ET"),  # Ethiopia: narrowed to ET
        ("om", "am_ET", "om_ET"),
        ("om-KE", "am_ET", "om_KE"),
        ("ti-ER, am;q=0.5", "am_ET", "ti_ER"),
        ("aa", "am_ET", "aa_ET"),
        ("aa-DJ", "en_KE", "aa_DJ"),
    ],
)
def test_negotiate(header: str | None, fallback: str | None, expected: str) -> None:
    assert i18n.negotiate(header, fallback) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "sw_KE.UTF-8"}, "sw_KE"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": "ja_JP.UTF-8"}, "ja_JP"),
        ({"LANG": "fr_FR.UTF-8", "NATION_STACK_LOCALE": "sw"}, "sw"),
        ({"LANG": "C.UTF-8"}, None),
        ({"LANG": "de_DE.UTF-8"}, None),
        ({}, None),
    ],
)
def test_locale_from_environment(environ: dict[str, str], expected: str | None) -> None:
    assert i18n.locale_from_environment(environ) == expected


def test_money_and_dates_follow_the_current_locale() -> None:
    day = date(2025, 3, 1)
    with i18n.use_locale("fr"):
        assert i18n.format_date(day, "long") == "1 mars 2025"
        assert i18n.format_money(Money("KES", 123456)) == Money("KES", 123456).format("fr")
    with i18n.use_locale("ja_JP"):
        assert i18n.format_date(day, "long") == "2025年3月1日"
        assert i18n.format_datetime(datetime(2025, 3, 1, 0, 30, tzinfo=UTC), "short", tz="Asia/Tokyo") == (
            "2025/03/01 9:30"
        )
    assert i18n.format_date(day, "long", locale="sw_KE") == "1 Machi 2025"


# ---------------------------------------------------------------- the API


def test_problem_detail_in_the_asked_language(client: TestClient) -> None:
    french = client.get("/meta", headers={"Accept-Language": "fr-FR, en;q=0.5"})
    assert french.status_code == 401
    problem = french.json()
    assert problem["detail"].startswith("une clé d’API est requise")
    assert problem["title"] == "Authentification requise"
    assert problem["type"].endswith("/unauthenticated")  # never translated
    assert problem["status"] == 401
    assert french.headers["content-language"] == "fr-FR"
    assert "Accept-Language" in french.headers["vary"]

    japanese = client.get("/meta", headers={"Accept-Language": "ja"})
    assert japanese.json()["detail"].startswith("API キーが必要です")
    assert japanese.headers["content-language"].startswith("ja")

    swahili = client.get("/meta", headers={"Accept-Language": "sw", "X-API-Key": "hello"})
    assert "muundo usio sahihi" in swahili.json()["detail"]


def test_problem_detail_in_arabic_amharic_and_hindi(client: TestClient) -> None:
    arabic = client.get("/meta", headers={"Accept-Language": "ar-JO, en;q=0.5"})
    assert arabic.status_code == 401
    problem = arabic.json()
    assert problem["detail"].startswith("مفتاح API مطلوب")
    assert problem["title"] == "المصادقة مطلوبة"
    assert problem["type"].endswith("/unauthenticated")  # never translated, whatever the script
    assert arabic.headers["content-language"] == "ar-JO"

    amharic = client.get("/meta", headers={"Accept-Language": "am-ET"})
    assert amharic.json()["detail"].startswith("የAPI ቁልፍ ያስፈልጋል")
    assert amharic.headers["content-language"] == "am-ET"

    hindi = client.get("/meta", headers={"Accept-Language": "hi-IN", "X-API-Key": "hello"})
    assert hindi.json()["detail"].startswith("API कुंजी का प्रारूप गलत है")
    assert hindi.headers["content-language"] == "hi-IN"


def test_unknown_language_falls_back_to_the_profile_then_english(client: TestClient, country: LoadedCountry) -> None:
    expected = i18n.negotiate(None, country.profile.locale)
    response = client.get("/meta", headers={"Accept-Language": "de-DE"})
    assert response.headers["content-language"] == i18n.content_language(expected)
    with i18n.use_locale(expected):
        assert response.json()["detail"] == i18n.gettext("an API key is required: send it in the X-API-Key header")


def test_starlette_errors_and_forbidden_scope_are_translated(client: TestClient, api_headers) -> None:
    missing = client.get("/nowhere", headers={"Accept-Language": "ja"})
    assert missing.status_code == 404
    assert missing.json()["title"] == "見つかりません"
    assert missing.json()["type"].endswith("/not-found")
    forbidden = client.get("/meta", headers={**api_headers("other:scope"), "Accept-Language": "fr"})
    assert forbidden.status_code == 403
    assert "«\u00a0meta:read\u00a0»" in forbidden.json()["detail"]
    assert forbidden.json()["type"].endswith("/forbidden")


def test_the_request_locale_does_not_leak_into_the_caller(client: TestClient) -> None:
    client.get("/meta", headers={"Accept-Language": "ja"})
    assert i18n.current_locale() == i18n.DEFAULT_LOCALE


class _Claim(BaseModel):
    name: str = Field(max_length=3)
    count: int = Field(ge=1)
    code: str = "ok"

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        if value != "ok":
            # A real validator marks its text with _(); this one is not in a catalog, so it stays as written.
            raise ValueError("code must be 'ok'")
        return value


@pytest.fixture
def validation_client() -> Iterator[TestClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(i18n.LocaleMiddleware, default_locale="en_KE")

    @app.post("/claims")
    def claim(body: _Claim, locale: LocaleDep) -> dict[str, str]:
        return {"locale": locale}

    with TestClient(app) as test_client:
        yield test_client


def test_validation_messages_are_translated_but_locations_are_not(validation_client: TestClient) -> None:
    body = {"name": "abcdef", "count": 0, "extra": 1}
    english = validation_client.post("/claims", json=body).json()
    assert english["errors"] == [
        {"location": "body.name", "message": "String should have at most 3 characters"},
        {"location": "body.count", "message": "Input should be greater than or equal to 1"},
    ]
    french = validation_client.post("/claims", json=body, headers={"Accept-Language": "fr"}).json()
    assert french["title"] == "Requête impossible à traiter" or french["title"] == "Contenu impossible à traiter"
    assert french["errors"] == [
        {"location": "body.name", "message": "La chaîne doit comporter au plus 3 caractères"},
        {"location": "body.count", "message": "La valeur doit être supérieure ou égale à 1"},
    ]
    assert french["detail"] == "; ".join(f"{e['location']}: {e['message']}" for e in french["errors"])
    japanese = validation_client.post("/claims", json={"count": 2}, headers={"Accept-Language": "ja"}).json()
    assert japanese["errors"] == [{"location": "body.name", "message": "必須項目です"}]
    hindi = validation_client.post("/claims", json={"count": 2}, headers={"Accept-Language": "hi"}).json()
    assert hindi["errors"] == [{"location": "body.name", "message": "यह फ़ील्ड अनिवार्य है"}]
    bad_code = {"name": "abc", "count": 1, "code": "no"}
    assert validation_client.post("/claims", json=bad_code).json()["errors"] == [
        {"location": "body.code", "message": "Value error, code must be 'ok'"}
    ]
    french_code = validation_client.post("/claims", json=bad_code, headers={"Accept-Language": "fr"}).json()
    assert french_code["errors"] == [{"location": "body.code", "message": "Valeur invalide\u00a0: code must be 'ok'"}]
    ok = validation_client.post("/claims", json={"name": "abc", "count": 1}, headers={"Accept-Language": "sw"})
    assert ok.json() == {"locale": "sw_KE"}
    assert ok.headers["content-language"] == "sw-KE"


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_country_profile: Path) -> Iterator[Path]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTRY_PROFILE", str(test_country_profile))
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    for name in i18n.LOCALE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_cli_speaks_the_language_of_lang(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "sw_KE.UTF-8")
    result = CliRunner().invoke(cli_app, ["check"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "uhamishaji unaosubiri: " in result.output
    assert i18n.current_locale() == i18n.DEFAULT_LOCALE  # restored when the command ends
    monkeypatch.setenv("NATION_STACK_LOCALE", "ja")
    refused = CliRunner().invoke(cli_app, ["partner", "create", "--name", "Bank", "--scope", "everything"])
    assert refused.exit_code == 2
    assert "不明なスコープ: everything" in refused.output
    monkeypatch.setenv("NATION_STACK_LOCALE", "hi")
    hindi = CliRunner().invoke(cli_app, ["check"], catch_exceptions=False)
    assert "लंबित माइग्रेशन: " in hindi.output


def test_cli_without_a_locale_follows_the_profile(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, country: LoadedCountry
) -> None:
    monkeypatch.setenv("LANG", "C.UTF-8")
    result = CliRunner().invoke(cli_app, ["check"], catch_exceptions=False)
    assert result.exit_code == 1
    # The count is the number of module heads; Arabic picks a different form for 2, 3-10 and 11-99,
    # so any of the language's forms will do, as long as it is the profile's language.
    with i18n.use_locale(i18n.negotiate(None, country.profile.locale)):
        forms = {i18n.ngettext("pending migration: {heads}", "pending migrations: {heads}", n) for n in range(1, 101)}
    assert any(form.split("{heads}")[0] in result.output for form in forms)
