"""The module's own catalogs (locales/): API errors follow Accept-Language, CLI output follows LANG."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ....cli import app as cli_app
from ....conftest import PROJECT_ROOT, TEST_SECRET
from ....core import i18n
from ....core.country import LoadedCountry
from ....core.settings import get_settings
from ..service import SECTION

ADMIN = "identity:admin"
NBSP = "\u00a0"


def test_missing_policy_detail_in_french_japanese_and_swahili(
    client: TestClient, api_headers: Callable[..., dict[str, str]]
) -> None:
    headers = api_headers(ADMIN)
    english = client.get("/identity/partners/4242/policy", headers={**headers, "Accept-Language": "en"})
    assert english.status_code == 404
    assert english.json()["detail"] == "partner_id: partner 4242 has no identity policy"
    french = client.get("/identity/partners/4242/policy", headers={**headers, "Accept-Language": "fr"})
    assert french.json()["detail"] == "partner_id: le partenaire 4242 n’a pas de politique d’identité"
    assert french.json()["type"] == english.json()["type"]
    japanese = client.get("/identity/partners/4242/policy", headers={**headers, "Accept-Language": "ja-JP"})
    assert japanese.json()["detail"] == "partner_id: パートナー 4242 には本人確認ポリシーが設定されていません"
    swahili = client.get(
        "/identity/enrolments/app-missing", headers={**api_headers("identity:read"), "Accept-Language": "sw"}
    )
    assert swahili.status_code == 404
    assert swahili.json()["detail"] == "application_id: hakuna usajili 'app-missing'"


def test_malformed_id_is_refused_in_french_and_japanese(
    client: TestClient, api_headers: Callable[..., dict[str, str]], country: LoadedCountry
) -> None:
    length = country.section(SECTION).id_length
    short = "2" * (length - 1)
    headers = api_headers("identity:read")
    french = client.post(
        "/identity/persons/lookup", json={"national_id": short}, headers={**headers, "Accept-Language": "fr-FR"}
    )
    assert french.status_code == 422
    assert french.json()["detail"] == (
        f"national_id: «{NBSP}{short}{NBSP}» compte {length - 1} chiffres{NBSP}; "
        f"les numéros d’identité comptent ici {length} chiffres"
    )
    assert french.json()["type"].endswith("/invalid-national-id")  # never translated
    assert french.headers["content-language"] == "fr-FR"
    japanese = client.post(
        "/identity/persons/lookup", json={"national_id": short}, headers={**headers, "Accept-Language": "ja"}
    )
    assert japanese.json()["detail"] == (
        f"national_id: 「{short}」は {length - 1} 桁ですが、ここでの ID は {length} 桁です"
    )
    assert japanese.json()["title"] in {"処理できないコンテンツです", "処理できないリクエストです"}  # by Python version


def test_resident_session_error_and_validator_message_in_japanese(
    client: TestClient, api_headers: Callable[..., dict[str, str]]
) -> None:
    missing = client.get("/identity/resident/me", headers={**api_headers("identity:resident"), "Accept-Language": "ja"})
    assert missing.status_code == 401
    assert missing.json()["detail"] == "住民セッションが必要です。X-Resident-Session ヘッダーで送信してください"
    body = {
        "application_id": "i18n-0001",
        "given_name": "Amina",
        "family_name": "Wanjiru",
        "date_of_birth": "2999-01-01",
        "sex": "F",
    }
    future = client.post(
        "/identity/enrolments", json=body, headers={**api_headers("identity:enrol"), "Accept-Language": "ja"}
    )
    assert future.status_code == 422
    [error] = future.json()["errors"]
    assert error["location"] == "body.date_of_birth"  # never translated
    assert error["message"].endswith("未来の日付は指定できません")


def test_module_catalog_is_merged_with_the_core_one() -> None:
    assert any(catalogs.folder.parent.name == "identity" for catalogs in i18n.installed_catalogs())
    with i18n.use_locale("fr"):
        assert i18n.gettext("'{vid}' is already revoked") == "«" + NBSP + "{vid}" + NBSP + "» est déjà révoqué"
        assert i18n.gettext("Not Found") == "Ressource introuvable"


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTRY_PROFILE", str(PROJECT_ROOT / "country.yml"))
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    for name in i18n.LOCALE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_identity_commands_speak_swahili_under_lang(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, country: LoadedCountry
) -> None:
    monkeypatch.setenv("LANG", "sw_KE.UTF-8")
    refused = CliRunner().invoke(cli_app, ["identity", "policy", "--partner-id", "1", "--auth", "iris"])
    assert refused.exit_code == 2
    assert "haijulikani: iris; vigezo: demo, otp; sifa: given_name" in " ".join(refused.output.split())
    short = "2" * (country.section(SECTION).id_length - 1)
    shown = CliRunner().invoke(cli_app, ["identity", "show", short], catch_exceptions=False)
    assert shown.exit_code == 1
    assert f"national_id: '{short}' ina tarakimu {len(short)};" in " ".join(shown.output.split())
    assert i18n.current_locale() == i18n.DEFAULT_LOCALE  # restored when the command ends
