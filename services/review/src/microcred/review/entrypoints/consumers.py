"""Review's subscriptions. Each only delegates; idempotency lives in the use case's inbox claim."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from microcred.events import CredentialPublished, SubmissionSubmitted, SubmissionWithdrawn
from microcred.review.domain.model import NO_DOUBLE_SCORING, DoubleScoringPolicy, DueRule
from microcred.review.service_layer import handlers
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.consumer import subscribe

GROUP = "review"


def register_consumers(
    broker: KafkaBroker,
    uow: Callable[[], ReviewUnitOfWork],
    *,
    due_in: DueRule,
    fresh_eyes: bool = True,
    double_scoring: DoubleScoringPolicy = NO_DOUBLE_SCORING,
    block_flagged: bool = False,
) -> None:
    @subscribe(broker, CredentialPublished, group_id=GROUP)
    async def on_credential_published(event: CredentialPublished) -> None:
        await handlers.record_credential(event, uow(), due_in, block_flagged=block_flagged)

    @subscribe(broker, SubmissionSubmitted, group_id=GROUP)
    async def on_submission_submitted(event: SubmissionSubmitted) -> None:
        await handlers.open_review(
            event, uow(), due_in, fresh_eyes=fresh_eyes, double_scoring=double_scoring, block_flagged=block_flagged
        )

    @subscribe(broker, SubmissionWithdrawn, group_id=GROUP)
    async def on_submission_withdrawn(event: SubmissionWithdrawn) -> None:
        await handlers.withdraw_review(event, uow(), due_in, block_flagged=block_flagged)
