"""Award's standing changes are counted on what a transaction committed, by kind of award."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from prometheus_client import CollectorRegistry

from microcred.award.adapters.metrics import AwardMetrics
from microcred.award.adapters.orm import messaging
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.events import (
    CollectionAwarded,
    CredentialAwarded,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    IntegrationEvent,
)
from microcred.runtime.testing import CommitSession

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)



def awarded() -> CredentialAwarded:
    return CredentialAwarded(
        correlation_id=uuid4(), award_id=uuid4(), submission_id=uuid4(), credential_id=uuid4(), credential_version=1,
        credential_name="Checking for Understanding", issuer_id=uuid4(), teacher_id="teacher-42", issued_at=NOW,
        credential={"id": "urn:uuid:x"},
    )


def collection_awarded(kind: str) -> CollectionAwarded:
    return CollectionAwarded.model_validate({
        "correlation_id": uuid4(), "award_id": uuid4(), "kind": kind, "collection_id": uuid4(),
        "collection_revision": 1, "name": "Formative Assessment", "issuer_id": uuid4(), "teacher_id": "teacher-42",
        "issued_at": NOW, "component_award_ids": (uuid4(),), "credential": {"id": "urn:uuid:y"},
    })


def changed(event_class: type[CredentialRevoked | CredentialSuspended | CredentialReinstated],
            kind: str) -> IntegrationEvent:
    return event_class.model_validate({
        "correlation_id": uuid4(), "award_id": uuid4(), "kind": kind, "achievement_id": uuid4(),
        "issuer_id": uuid4(), "teacher_id": "teacher-42", "reason": "evidence was not the teacher's own",
        "changed_at": NOW, "changed_by": "issuer-admin",
    })


def unit_of_work(registry: CollectorRegistry, session: CommitSession) -> AwardUnitOfWork:
    return AwardUnitOfWork(lambda: session, messaging, "award",  # type: ignore[arg-type,return-value]
                           metrics=AwardMetrics(registry))


def awards(registry: CollectorRegistry, kind: str, event: str) -> float | None:
    return registry.get_sample_value("microcred_awards_total", {"kind": kind, "event": event})


async def commit(registry: CollectorRegistry, *events: IntegrationEvent) -> None:
    async with unit_of_work(registry, CommitSession()) as uow:
        uow.publish(*events)
        await uow.commit()


async def test_a_committed_micro_credential_award_counts_as_issued_once() -> None:
    registry = CollectorRegistry()
    await commit(registry, awarded())
    assert awards(registry, "micro_credential", "issued") == 1


@pytest.mark.parametrize("kind", ["stack", "pathway"])
async def test_a_collection_award_counts_as_issued_with_its_kind(kind: str) -> None:
    registry = CollectorRegistry()
    await commit(registry, collection_awarded(kind))
    assert awards(registry, kind, "issued") == 1
    assert awards(registry, "micro_credential", "issued") == 0


@pytest.mark.parametrize("event_class,event", [
    (CredentialRevoked, "revoked"), (CredentialSuspended, "suspended"), (CredentialReinstated, "reinstated"),
])
@pytest.mark.parametrize("kind", ["micro_credential", "pathway"])
async def test_a_standing_change_counts_as_its_event_with_the_award_kind(
    event_class: type[CredentialRevoked | CredentialSuspended | CredentialReinstated], event: str, kind: str
) -> None:
    registry = CollectorRegistry()
    await commit(registry, changed(event_class, kind))
    assert awards(registry, kind, event) == 1
    assert awards(registry, kind, "issued") == 0


@pytest.mark.parametrize("refuse_commit", [False, True], ids=["left-without-commit", "commit-refused"])
async def test_a_transaction_that_did_not_commit_counts_nothing(refuse_commit: bool) -> None:
    registry = CollectorRegistry()
    with pytest.raises((RuntimeError, ConnectionError)):
        async with unit_of_work(registry, CommitSession(refuse_commit)) as uow:
            uow.publish(awarded(), changed(CredentialRevoked, "stack"))
            if refuse_commit:
                await uow.commit()
            raise RuntimeError("the signing key could not be unsealed")
    assert awards(registry, "micro_credential", "issued") == 0
    assert awards(registry, "stack", "revoked") == 0


def test_every_kind_and_event_is_exported_from_the_start() -> None:
    registry = CollectorRegistry()
    AwardMetrics(registry)
    assert {(kind, event): awards(registry, kind, event)
            for kind in ("micro_credential", "stack", "pathway")
            for event in ("issued", "revoked", "suspended", "reinstated")} == {
        (kind, event): 0.0 for kind in ("micro_credential", "stack", "pathway")
        for event in ("issued", "revoked", "suspended", "reinstated")}
