"""Award subscribers: translate a decoded event into a use case. Ack policy and retries: runtime.consumer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from microcred.award.service_layer import handlers
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.events import CredentialPublished, SubmissionScored
from microcred.runtime.consumer import subscribe


def register_consumers(broker: KafkaBroker, uow: Callable[[], AwardUnitOfWork], *, identity_salt: str) -> None:
    @subscribe(broker, CredentialPublished, group_id="award")
    async def on_credential_published(event: CredentialPublished) -> None:
        await handlers.record_credential_version(event, uow(), identity_salt)

    @subscribe(broker, SubmissionScored, group_id="award")
    async def on_submission_scored(event: SubmissionScored) -> None:
        await handlers.award_passed_submission(event, uow(), identity_salt)
