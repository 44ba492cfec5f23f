"""Award subscribers: translate a decoded event into a use case. Ack policy and retries: runtime.consumer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from microcred.award.service_layer import handlers
from microcred.award.service_layer.signing import IssuingAuthority
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.events import (
    CredentialPublished,
    PathwayChanged,
    StackChanged,
    SubmissionScored,
    SubmissionSubmitted,
)
from microcred.runtime.consumer import subscribe


def register_consumers(broker: KafkaBroker, uow: Callable[[], AwardUnitOfWork], authority: IssuingAuthority) -> None:
    @subscribe(broker, CredentialPublished, group_id="award")
    async def on_credential_published(event: CredentialPublished) -> None:
        await handlers.record_credential_version(event, uow(), authority)

    @subscribe(broker, SubmissionSubmitted, group_id="award")
    async def on_submission_submitted(event: SubmissionSubmitted) -> None:
        await handlers.record_submitted_attempt(event, uow(), authority)

    @subscribe(broker, SubmissionScored, group_id="award")
    async def on_submission_scored(event: SubmissionScored) -> None:
        await handlers.award_passed_submission(event, uow(), authority)

    @subscribe(broker, StackChanged, group_id="award")
    async def on_stack_changed(event: StackChanged) -> None:
        await handlers.record_stack(event, uow(), authority)

    @subscribe(broker, PathwayChanged, group_id="award")
    async def on_pathway_changed(event: PathwayChanged) -> None:
        await handlers.record_pathway(event, uow(), authority)
