"""Submission's subscriptions: each decodes one event type and hands it to its use case.

Ack policy, retries and dead letters are the runtime's (see microcred.runtime.consumer): the offset
is committed only after the use case's transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialRetired,
    PathwayChanged,
    ReviewerAssigned,
    ReviewerReleased,
    RevisionRequested,
    SubmissionScored,
)
from microcred.runtime.consumer import subscribe
from microcred.submission.service_layer import handlers
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork

GROUP_ID = "submission"


def register_consumers(broker: KafkaBroker, uow: Callable[[], SubmissionUnitOfWork]) -> None:
    @subscribe(broker, CredentialPublished, group_id=GROUP_ID)
    async def on_credential_published(event: CredentialPublished) -> None:
        await handlers.record_credential_published(event, uow())

    @subscribe(broker, CredentialRetired, group_id=GROUP_ID)
    async def on_credential_retired(event: CredentialRetired) -> None:
        await handlers.record_credential_retired(event, uow())

    @subscribe(broker, PathwayChanged, group_id=GROUP_ID)
    async def on_pathway_changed(event: PathwayChanged) -> None:
        await handlers.record_pathway_changed(event, uow())

    @subscribe(broker, ReviewerAssigned, group_id=GROUP_ID)
    async def on_reviewer_assigned(event: ReviewerAssigned) -> None:
        await handlers.record_reviewer_assigned(event, uow())

    @subscribe(broker, ReviewerReleased, group_id=GROUP_ID)
    async def on_reviewer_released(event: ReviewerReleased) -> None:
        await handlers.record_reviewer_released(event, uow())

    @subscribe(broker, RevisionRequested, group_id=GROUP_ID)
    async def on_revision_requested(event: RevisionRequested) -> None:
        await handlers.record_revision_requested(event, uow())

    @subscribe(broker, SubmissionScored, group_id=GROUP_ID)
    async def on_submission_scored(event: SubmissionScored) -> None:
        await handlers.record_submission_scored(event, uow())

    @subscribe(broker, CredentialAwarded, group_id=GROUP_ID)
    async def on_credential_awarded(event: CredentialAwarded) -> None:
        await handlers.record_credential_awarded(event, uow())
