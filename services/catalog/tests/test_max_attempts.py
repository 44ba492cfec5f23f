"""``max_attempts``: how many submissions a teacher gets at a credential version, carried from the
draft through storage, views, the exchange format and ``catalog.credential-published``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from catalog_fakes import FakeUnitOfWork
from conftest import definition_data, publish
from fastapi.testclient import TestClient
from pydantic import ValidationError

from microcred.catalog.bootstrap import build_app
from microcred.catalog.domain.model import CredentialDefinition, Issuer
from microcred.catalog.entrypoints.api import credential_view
from microcred.catalog.service_layer import handlers
from microcred.catalog.service_layer.catalog_exchange import export_catalog, import_catalog
from microcred.catalog.settings import CatalogSettings
from microcred.events import CredentialPublished
from microcred.runtime.auth import DevTokenIssuer, Principal, Role
from microcred.runtime.errors import DomainError


def test_a_definition_without_max_attempts_has_no_limit() -> None:
    assert CredentialDefinition.model_validate(definition_data()).max_attempts is None


@pytest.mark.parametrize("bad", [0, -1, "many"])
def test_max_attempts_must_be_a_whole_number_of_at_least_one(bad: object) -> None:
    with pytest.raises(ValidationError):
        CredentialDefinition.model_validate(definition_data(max_attempts=bad))


def test_a_definition_stored_before_max_attempts_existed_reads_back_without_a_limit() -> None:
    stored = CredentialDefinition.model_validate(definition_data(max_attempts=3)).model_dump(mode="json")
    assert stored["max_attempts"] == 3
    del stored["max_attempts"]
    assert CredentialDefinition.model_validate(stored).max_attempts is None


async def test_publishing_carries_max_attempts_in_the_event_and_the_view(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    await publish(uow, issuer, admin, operator, max_attempts=3)
    [event] = uow.published
    assert isinstance(event, CredentialPublished) and event.max_attempts == 3
    version = next(iter(uow.state.credentials.values())).latest()
    assert credential_view(version)["max_attempts"] == 3


async def test_an_unlimited_credential_publishes_max_attempts_as_none(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    await publish(uow, issuer, admin, operator)
    [event] = uow.published
    assert isinstance(event, CredentialPublished) and event.max_attempts is None


async def test_editing_a_draft_changes_its_max_attempts(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal
) -> None:
    command = handlers.DraftCredential.model_validate(definition_data(max_attempts=2) | {"issuer_id": issuer.issuer_id})
    version = await handlers.draft_credential(command, admin, uow)
    edited = handlers.DefinitionBody.model_validate(definition_data(max_attempts=5)).definition()
    after = await handlers.edit_version(version.credential_id, 1, edited, admin, uow)
    assert after.definition.max_attempts == 5


async def test_max_attempts_survives_an_export_and_an_import_elsewhere(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    seed_document["credentials"][0]["max_attempts"] = 2
    await import_catalog(seed_document, operator, uow)
    exported = await export_catalog(uow)
    limited = [c for c in exported["credentials"] if "max_attempts" in c]
    assert [(c["key"], c["max_attempts"]) for c in limited] == [(seed_document["credentials"][0]["key"], 2)]
    fresh = FakeUnitOfWork()
    await import_catalog(exported, operator, fresh)
    attempts = {e.key: e.max_attempts for e in fresh.published if isinstance(e, CredentialPublished)}
    assert attempts[seed_document["credentials"][0]["key"]] == 2
    assert sum(value is None for value in attempts.values()) == len(attempts) - 1


async def test_a_changed_max_attempts_is_imported_as_a_new_version(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    await import_catalog(seed_document, operator, uow)
    seed_document["credentials"][0]["max_attempts"] = 4
    summary = await import_catalog(seed_document, operator, uow)
    assert summary.new_versions == 1
    event = uow.published[-1]
    assert isinstance(event, CredentialPublished) and (event.version, event.max_attempts) == (2, 4)


async def test_an_import_with_zero_attempts_is_refused_with_its_location(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    seed_document["credentials"][0]["max_attempts"] = 0
    with pytest.raises(DomainError) as error:
        await import_catalog(seed_document, operator, uow)
    details: list[dict[str, str]] = error.value.details  # type: ignore[assignment]
    [problem] = details
    assert problem["location"].endswith(".max_attempts") and uow.published == []


def test_a_draft_body_with_zero_attempts_is_malformed(tmp_path: Path) -> None:
    tokens = DevTokenIssuer(tmp_path / "auth")
    client = TestClient(build_app(CatalogSettings(auth_jwks_url=tokens.jwks_url)))
    body = definition_data(max_attempts=0) | {"issuer_id": "00000000-0000-0000-0000-000000000001"}
    response = client.post("/credentials", json=body,
                           headers={"Authorization": f"Bearer {tokens.mint('admin-1', [Role.ISSUER_ADMIN])}"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    assert any("max_attempts" in str(detail) for detail in response.json()["details"])
