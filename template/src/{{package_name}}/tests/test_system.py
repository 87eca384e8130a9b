from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ..conftest import PROJECT_ROOT
from ..core.registry import installed_modules
from ..core.stack import stack_info

pytestmark = pytest.mark.selection  # depends on which modules are installed


def test_health_needs_no_key(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_meta_reports_template_version_modules_country_and_licensee(
    client: TestClient, api_headers: Callable[..., dict[str, str]]
) -> None:
    response = client.get("/meta", headers=api_headers("meta:read"))
    assert response.status_code == 200
    body = response.json()
    info = stack_info()
    assert body["template"]["version"] == info.template_version
    assert [m["name"] for m in body["modules"]] == [m.name for m in installed_modules()]
    assert body["licence"]["licensee"] == info.licensee
    licence = body["licence"]
    if (PROJECT_ROOT / "licence" / "grant.yml").exists():
        assert licence["grant"]["grant_id"] == licence["grant_id"] and not licence["evaluation"]
    else:
        assert (licence["coverage"], licence["grant"], licence["evaluation"]) == ("evaluation", None, True)
    assert len(body["country"]["code"]) == 2


def test_meta_without_key_is_a_401_problem(client: TestClient) -> None:
    response = client.get("/meta")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 401
    assert "X-API-Key" in problem["detail"]
    assert problem["instance"] == "/meta"


def test_wrong_or_malformed_key_is_refused(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> None:
    valid = api_headers("meta:read")["X-API-Key"]
    tampered = valid[:-2] + ("aa" if not valid.endswith("aa") else "bb")
    assert client.get("/meta", headers={"X-API-Key": tampered}).status_code == 401
    assert "malformed" in client.get("/meta", headers={"X-API-Key": "hello"}).json()["detail"]


def test_key_without_scope_is_forbidden(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> None:
    response = client.get("/meta", headers=api_headers("something:else"))
    assert response.status_code == 403
    assert "meta:read" in response.json()["detail"]


def test_unknown_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_every_route_but_health_and_the_sign_in_requires_a_key(client: TestClient) -> None:
    # From the OpenAPI document: the app's route list holds routers included lazily (FastAPI
    # 0.165), whose routes it does not list, so walking it would check nothing.
    open_paths = {"/health", "/.well-known/jwks.json"}  # the signing key's public half is for anyone
    open_paths |= {"/staff/oidc/login", "/staff/oidc/callback", "/staff/oidc/logout"}
    open_operations = {("POST", "/staff/sessions")}  # signing in with a password (its own 401 for wrong ones)
    paths = client.app.openapi()["paths"]
    operations = [(method.upper(), path) for path, item in paths.items() for method in item]
    assert len(operations) > len(open_paths)
    for method, path in operations:
        if path in open_paths or (method, path) in open_operations:
            continue
        operation = paths[path][method.lower()]
        if "x-standard" in operation and not operation.get("security"):
            continue  # a standard's open route: its published keys, its token endpoint (client credentials)
        url = path.replace("{", "").replace("}", "")
        response = client.request(method, url)
        assert response.status_code == 401, f"{method} {path} answered {response.status_code} without a key"
