"""The HTTP surface through the real composition root; these requests are refused before any use case
runs, so nothing connects."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from microcred.catalog.bootstrap import build_app
from microcred.catalog.settings import CatalogSettings
from microcred.runtime.auth import DevTokenIssuer, Role


@pytest.fixture
def tokens(tmp_path: Path) -> DevTokenIssuer:
    return DevTokenIssuer(tmp_path / "auth")


@pytest.fixture
def client(tokens: DevTokenIssuer) -> TestClient:
    return TestClient(build_app(CatalogSettings(auth_jwks_url=tokens.jwks_url)))


def bearer(tokens: DevTokenIssuer, *roles: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint('someone', roles)}"}


def test_every_catalog_route_needs_a_bearer_token(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    routes = [
        (method.upper(), path.replace("{issuer_id}", str(uuid4())).replace("{credential_id}", str(uuid4()))
         .replace("{stack_id}", str(uuid4())).replace("{pathway_id}", str(uuid4())).replace("{version}", "1")
         .replace("{subject}", "x"))
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if "operations" not in operation.get("tags", [])
    ]
    assert len(routes) >= 30
    for method, path in routes:
        assert client.request(method, path).status_code == 401, (method, path)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/issuers", {"name": "X"}),
        ("POST", f"/credentials/{uuid4()}/versions/1/approve",
         {"checks": {"research_base": True, "evidence_requirements": True, "rubric": True}}),
        ("POST", f"/credentials/{uuid4()}/versions/1/request-changes", {"reason": "r"}),
        ("POST", "/catalog/import", {}),
        ("GET", "/catalog/export", None),
    ],
)
def test_operator_routes_refuse_an_issuer_admin(
    client: TestClient, tokens: DevTokenIssuer, method: str, path: str, body: object
) -> None:
    response = client.request(method, path, json=body, headers=bearer(tokens, Role.ISSUER_ADMIN))
    assert response.status_code == 403


def test_a_teacher_cannot_draft_credentials(client: TestClient, tokens: DevTokenIssuer) -> None:
    response = client.post("/credentials", json={}, headers=bearer(tokens, Role.TEACHER))
    assert response.status_code == 403


def test_request_changes_without_a_reason_is_malformed(client: TestClient, tokens: DevTokenIssuer) -> None:
    response = client.post(f"/credentials/{uuid4()}/versions/1/request-changes", json={},
                           headers=bearer(tokens, Role.OPERATOR))
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"


def test_an_unknown_status_filter_is_malformed(client: TestClient, tokens: DevTokenIssuer) -> None:
    response = client.get("/credentials", params={"status": "deleted"}, headers=bearer(tokens, Role.TEACHER))
    assert response.status_code == 422
