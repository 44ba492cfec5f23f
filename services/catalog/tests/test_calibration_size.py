"""``calibration_size``: how many first submissions of a credential version get two reviewers, carried
from the draft through storage, views, the exchange format and ``catalog.credential-published``."""

from __future__ import annotations

from typing import Any

import pytest
from catalog_fakes import FakeUnitOfWork
from conftest import definition_data, publish
from pydantic import ValidationError

from microcred.catalog.domain.model import CredentialDefinition, Issuer
from microcred.catalog.entrypoints.api import credential_view
from microcred.catalog.service_layer.catalog_exchange import export_catalog, import_catalog
from microcred.events import CredentialPublished
from microcred.runtime.auth import Principal


@pytest.mark.parametrize("bad", [-1, "many"])
def test_calibration_size_must_be_a_whole_number_of_at_least_zero(bad: object) -> None:
    with pytest.raises(ValidationError):
        CredentialDefinition.model_validate(definition_data(calibration_size=bad))


def test_a_definition_stored_before_calibration_size_existed_reads_back_as_the_review_default() -> None:
    stored = CredentialDefinition.model_validate(definition_data(calibration_size=0)).model_dump(mode="json")
    assert stored["calibration_size"] == 0
    del stored["calibration_size"]
    assert CredentialDefinition.model_validate(stored).calibration_size is None


async def test_publishing_carries_calibration_size_in_the_event_and_the_view_and_zero_stays_zero(
    uow: FakeUnitOfWork, issuer: Issuer, admin: Principal, operator: Principal
) -> None:
    await publish(uow, issuer, admin, operator, calibration_size=0)
    [event] = uow.published
    assert isinstance(event, CredentialPublished) and event.calibration_size == 0
    version = next(iter(uow.state.credentials.values())).latest()
    assert credential_view(version)["calibration_size"] == 0


async def test_calibration_size_survives_an_export_and_an_import_elsewhere(
    seed_document: dict[str, Any], uow: FakeUnitOfWork, operator: Principal
) -> None:
    seed_document["credentials"][0]["calibration_size"] = 3
    await import_catalog(seed_document, operator, uow)
    exported = await export_catalog(uow)
    calibrated = [c for c in exported["credentials"] if "calibration_size" in c]
    assert [(c["key"], c["calibration_size"]) for c in calibrated] == [(seed_document["credentials"][0]["key"], 3)]
    fresh = FakeUnitOfWork()
    await import_catalog(exported, operator, fresh)
    sizes = {e.key: e.calibration_size for e in fresh.published if isinstance(e, CredentialPublished)}
    assert sizes[seed_document["credentials"][0]["key"]] == 3
    assert sum(value is None for value in sizes.values()) == len(sizes) - 1
