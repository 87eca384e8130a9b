"""The module's own catalogs (locales/): its problem details, validation messages and CLI output are translated."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....core import i18n
from ....core.country import LoadedCountry
from ....core.runtime import build_runtime
from ....core.settings import Settings
from .. import cli


def test_missing_transfer_in_english_and_french(client: TestClient, headers: dict[str, str]) -> None:
    english = client.get("/payments/transfers/NOPE", headers={**headers, "Accept-Language": "en"})
    assert english.status_code == 404
    assert english.json()["detail"] == "client_reference: no transfer 'NOPE'"
    french = client.get("/payments/transfers/NOPE", headers={**headers, "Accept-Language": "fr-FR"})
    assert french.status_code == 404
    assert french.json()["detail"] == "client_reference: aucun virement «\u00a0NOPE\u00a0»"
    assert french.json()["title"] == "Ressource introuvable"
    assert french.json()["type"] == english.json()["type"]  # never translated
    assert french.headers["content-language"] == "fr-FR"


def test_unlinked_beneficiary_and_reserved_reference_in_japanese(
    client: TestClient, headers: dict[str, str], country: LoadedCountry
) -> None:
    def pay_in_japanese(reference: str) -> Any:
        body = {
            "client_reference": reference,
            "beneficiary": {"external_id": "NOBODY"},
            "amount": 100,
            "currency": country.profile.currency,
        }
        return client.post("/payments/transfers", json=body, headers={**headers, "Accept-Language": "ja"})

    unlinked = pay_in_japanese("REF-JA")
    assert unlinked.status_code == 409
    assert unlinked.json()["detail"] == (
        "beneficiary: この external_id には金融口座が紐付けられていません。"
        "先に POST /payments/accounts で紐付けてください"
    )
    assert unlinked.json()["type"].endswith("/beneficiary-not-linked")
    reserved = pay_in_japanese("G2P-1-1")  # refused by the request schema's own validator
    assert reserved.status_code == 422
    assert reserved.json()["errors"] == [
        {
            "location": "body.client_reference",
            "message": "値が正しくありません: G2P- で始まる参照番号はプログラムの支払用に予約されています",
        }
    ]


def test_payments_commands_speak_the_language_of_lang(
    session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "build_runtime", lambda: build_runtime(settings))
    for name in i18n.LOCALE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "sw_KE.UTF-8")
    runner = CliRunner()
    checked = runner.invoke(stack_cli, ["payments", "ledger-check"], catch_exceptions=False)
    assert checked.exit_code == 0, checked.output
    assert "imekaguliwa: uhamisho 0, maingizo 0, akaunti 0" in checked.output
    assert "leja iko sawa" in checked.output
    missing = runner.invoke(stack_cli, ["payments", "reconcile", "--cycle", "999"])
    assert missing.exit_code == 1
    assert "cycle_id: hakuna mzunguko 999" in missing.output
    assert i18n.current_locale() == i18n.DEFAULT_LOCALE  # restored when the command ends
