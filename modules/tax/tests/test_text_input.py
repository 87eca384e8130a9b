"""Text the tax API accepts is `Line` or `Text`: control characters (NUL first: PostgreSQL cannot store it) are
refused with a 422 naming the field, never a 500; every text field and path parameter says so in the OpenAPI."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from ....core.country import LoadedCountry
from .. import schemas
from ..scopes import DECIDE_SCOPE, FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE
from .helpers import a_year


def refused(response, location: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "control characters are not allowed" in problem["detail"]
    assert location in problem["detail"]


@pytest.mark.parametrize("name", ["Ada\x00Lovelace", "Ada\nLovelace", "Ada\x85Byron"])
def test_a_taxpayer_name_with_a_control_character_is_refused(
    client: TestClient, api_headers: Callable[..., dict[str, str]], name: str
) -> None:
    response = client.post(
        "/tax/taxpayers",
        json={"kind": "individual", "name": name, "external_id": "NUL-1"},
        headers=api_headers(REGISTER_SCOPE),
    )
    refused(response, "body.name")


def test_objection_grounds_and_decision_notes_refuse_nul_but_keep_line_breaks(
    client: TestClient, api_headers: Callable[..., dict[str, str]], country: LoadedCountry
) -> None:
    filer = api_headers(REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE)
    tin = client.post(
        "/tax/taxpayers", json={"kind": "individual", "name": "O", "external_id": "NUL-2"}, headers=filer
    ).json()["tin"]
    filed = client.post(
        "/tax/returns",
        json={"tin": tin, "year": a_year(country), "income": 10**9, "currency": country.profile.currency},
        headers=filer,
    ).json()
    lodge = {"assessment_id": filed["id"], "grounds": "a\x00b"}
    refused(client.post("/tax/objections", json=lodge, headers=filer), "body.grounds")
    lodged = client.post(
        "/tax/objections", json={"assessment_id": filed["id"], "grounds": "counted twice:\n\tsee line 3"}, headers=filer
    )
    assert lodged.status_code == 201, lodged.text
    assert lodged.json()["grounds"] == "counted twice:\n\tsee line 3"
    decider = api_headers(DECIDE_SCOPE)
    objection_id = lodged.json()["id"]
    assert client.post(f"/tax/objections/{objection_id}/review", headers=decider).status_code == 200
    refused(
        client.post(
            f"/tax/objections/{objection_id}/decision", json={"outcome": "disallowed", "note": "\x00"}, headers=decider
        ),
        "body.note",
    )
    assert client.get(f"/tax/objections/{objection_id}", headers=filer).json()["state"] == "under_review"


@pytest.mark.parametrize(
    "path",
    [
        "/tax/taxpayers/1%002",
        "/tax/taxpayers/1%002/assessments",
        "/tax/accounts/1%002",
        "/tax/vat-returns/123456782/2024%00/amendments",
    ],
)
def test_text_path_parameters_refuse_nul(
    client: TestClient, api_headers: Callable[..., dict[str, str]], path: str
) -> None:
    headers = api_headers(REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE)
    if path.endswith("amendments"):
        response = client.post(path, json={"currency": "XXX"}, headers=headers)
    else:
        response = client.get(path, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "control characters are not allowed" in response.json()["detail"]


def test_every_text_the_tax_api_accepts_states_its_characters(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    unstated = []
    for path, operations in document["paths"].items():
        if not path.startswith("/tax/"):
            continue
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
                    unstated.append(f"{method.upper()} {path} {parameter['name']}")
    requests = {
        name
        for name, value in vars(schemas).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and "Out" not in name
    }
    for name, schema in components.items():
        if name not in requests:
            continue
        for field, prop in schema.get("properties", {}).items():
            for option in prop.get("anyOf", [prop]):
                if option.get("type") == "string" and "pattern" not in option and "enum" not in option:
                    unstated.append(f"{name}.{field}")
    assert not unstated, unstated
    assert requests & components.keys() >= {"TaxpayerRequest", "ObjectionRequest", "DecisionRequest", "VatLine"}
