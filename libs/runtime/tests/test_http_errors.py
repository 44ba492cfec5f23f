"""Every refusal has one JSON shape, whoever refuses: auth, request validation or a use case."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import BaseModel

from microcred.runtime.api import api_router
from microcred.runtime.auth import CurrentPrincipal, DevTokenIssuer, Role
from microcred.runtime.errors import Conflict
from microcred.runtime.testing import runtime_for_app


class Body(BaseModel):
    amount: int


def client(tmp_path: Path) -> tuple[TestClient, DevTokenIssuer]:
    issuer = DevTokenIssuer(tmp_path)
    runtime = runtime_for_app(issuer.jwks_url)
    router = api_router()

    @router.post("/things")
    async def create(body: Body, _: CurrentPrincipal) -> dict[str, int]:
        if body.amount > 10:
            raise Conflict("too many things", code="too_many")
        if body.amount < 0:  # stands for a pooled connection the database closed (a restart, a failover)
            raise sa.exc.OperationalError("SELECT 1", {}, ConnectionResetError("connection reset by peer"))
        return {"amount": body.amount}

    # No lifespan: these checks need neither the database nor the broker.
    return TestClient(runtime.create_app(router, title="t")), issuer


def test_missing_token_invalid_body_and_domain_refusal_share_one_error_shape(tmp_path: Path) -> None:
    http, issuer = client(tmp_path)
    token = {"Authorization": f"Bearer {issuer.mint('u-1', [Role.TEACHER])}"}
    unauthenticated = http.post("/things", json={"amount": 1})
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "unauthorized"
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    invalid = http.post("/things", json={"amount": "many"}, headers=token)
    assert invalid.status_code == 422 and invalid.json()["error"] == "invalid_request"
    assert invalid.json()["details"][0]["loc"] == ["body", "amount"]
    refused = http.post("/things", json={"amount": 11}, headers=token)
    assert refused.status_code == 409 and refused.json() == {"error": "too_many", "detail": "too many things"}
    assert http.post("/things", json={"amount": 3}, headers=token).json() == {"amount": 3}


def test_liveness_does_not_depend_on_the_database_or_broker(tmp_path: Path) -> None:
    http, _ = client(tmp_path)
    assert http.get("/livez").json() == {"status": "ok"}


def test_a_lost_database_connection_is_a_retryable_503_in_the_same_shape(tmp_path: Path) -> None:
    http, issuer = client(tmp_path)
    token = {"Authorization": f"Bearer {issuer.mint('u-1', [Role.TEACHER])}"}
    lost = http.post("/things", json={"amount": -1}, headers=token)
    assert lost.status_code == 503 and lost.json()["error"] == "unavailable"
    assert lost.headers["retry-after"] == "1"
    assert "connection reset" not in lost.text, "driver details stay in the log"
