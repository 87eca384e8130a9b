"""The module's own catalogs (locales/): its problem details follow Accept-Language."""

from collections.abc import Callable

from fastapi.testclient import TestClient

from ....core import i18n

ADMIN = "identity:admin"


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


def test_module_catalog_is_merged_with_the_core_one() -> None:
    assert any(root.parent.name == "identity" for root in i18n.catalog_roots())
    with i18n.use_locale("fr"):
        assert i18n.gettext("'{vid}' is already revoked") == "«\u00a0{vid}\u00a0» est déjà révoqué"
        assert i18n.gettext("Not Found") == "Ressource introuvable"
