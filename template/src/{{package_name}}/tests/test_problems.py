"""Every error is a problem document, an unexpected one included, and the OpenAPI says so for each operation."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from ..app import create_app
from ..core.errors import PROBLEM_MEDIA_TYPE, Problem, Unprocessable
from ..core.i18n import N_
from ..core.settings import Settings

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country


@pytest.fixture
def failing_client(settings: Settings, engine) -> TestClient:
    app = create_app(settings)

    @app.get("/test-only/slow-down", responses={429: {"description": "Too many attempts"}})
    def slow_down() -> None:
        raise Problem("wait a minute", kind="too-many-attempts", status=429)

    @app.get("/test-only/wrong-field")
    def wrong_field() -> None:
        raise Problem(N_("Not Found"), kind="invalid-input", status=422, field="account.number")

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("secret-value INSERT INTO core_partners (key_hash) VALUES ('s3cr3t')")

    with TestClient(app, raise_server_exceptions=False, headers={"Accept-Language": "en"}) as client:
        yield client


def test_an_unexpected_error_is_a_problem_with_a_reference_and_no_internals(
    failing_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = failing_client.get("/test-only/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert problem["type"] == "https://nation-stack.dev/problems/internal-error"
    assert problem["title"] == "Internal Server Error"
    assert problem["status"] == 500
    assert problem["instance"] == "/test-only/boom"
    reference = problem["reference"]
    assert len(reference) >= 16
    assert reference in problem["detail"]
    assert "secret-value" not in response.text and "s3cr3t" not in response.text and "RuntimeError" not in response.text
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged, "the reference is not in the server log"
    assert logged[0].exc_info is not None and "secret-value" in str(logged[0].exc_info[1])


def test_the_generic_detail_is_translated(failing_client: TestClient) -> None:
    english = failing_client.get("/test-only/boom").json()
    french = failing_client.get("/test-only/boom", headers={"Accept-Language": "fr"}).json()
    assert french["detail"] != english["detail"].replace(english["reference"], french["reference"])
    assert french["reference"] in french["detail"]
    assert english["reference"] != french["reference"]


def test_a_problem_names_its_field_before_the_translated_message(failing_client: TestClient) -> None:
    english = failing_client.get("/test-only/wrong-field").json()
    french = failing_client.get("/test-only/wrong-field", headers={"Accept-Language": "fr"}).json()
    assert english["detail"] == "account.number: Not Found"
    assert french["detail"].startswith("account.number: ") and french["detail"] != english["detail"]


def test_a_problem_keeps_field_and_message_apart_for_callers_that_are_not_http() -> None:
    problem = Unprocessable("must be 6 to 20 digits", field="account.number")
    assert (problem.field, problem.message) == ("account.number", "must be 6 to 20 digits")
    assert problem.detail == str(problem) == "account.number: must be 6 to 20 digits"
    assert Problem("no field").field is None and Problem("no field").detail == "no field"


def test_every_operation_documents_its_problems(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    problem = schemas["ProblemDetails"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= problem["properties"].keys()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            expected = {"422", "500"}
            if operation.get("security"):
                expected |= {"401", "403"}
            if "{" in path:
                expected.add("404")
            if "requestBody" in operation:
                expected.add("400")
            if method in {"post", "put", "patch", "delete"}:
                expected.add("409")
            assert expected <= responses.keys(), (where, sorted(responses))
            # A standard's route (x-standard: a module's root_router) answers errors in the standard's own body.
            for status, response in responses.items():
                if int(status) >= 400 and (path, status) != ("/health", "503") and "x-standard" not in operation:
                    assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (where, status)
                    ref = response["content"][PROBLEM_MEDIA_TYPE]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ProblemDetails", (where, status)


def test_a_route_keeps_its_own_error_body(client: TestClient) -> None:
    health = client.get("/openapi.json").json()["paths"]["/health"]["get"]["responses"]
    assert list(health["503"]["content"]) == ["application/json"]
    schema = health["503"]["content"]["application/json"]["schema"]
    assert schema["properties"]["status"]["enum"] == ["ok", "unavailable"]


def test_a_route_declares_an_unusual_status_and_it_is_documented_as_a_problem(failing_client: TestClient) -> None:
    response = failing_client.get("/test-only/slow-down")
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    documented = failing_client.get("/openapi.json").json()["paths"]["/test-only/slow-down"]["get"]["responses"]
    assert documented["429"]["description"] == "Too many attempts"
    assert list(documented["429"]["content"]) == [PROBLEM_MEDIA_TYPE]
