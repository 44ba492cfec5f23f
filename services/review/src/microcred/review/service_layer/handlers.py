"""Review use cases. Each takes a command or event and a unit of work, and commits once.

Every write that can create a review or free or add capacity ends by draining the queue inside the
same unit of work, under the routing lock, so an assignment and the change that made it possible
commit (and emit ReviewerAssigned) together or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Self
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from microcred.events import (
    CredentialPublished,
    IntegrationEvent,
    ReviewerAssigned,
    RevisionRequested,
    SubmissionScored,
    SubmissionSubmitted,
    SubmissionWithdrawn,
)
from microcred.review.domain.model import (
    Availability,
    Certification,
    CredentialRubric,
    DueRule,
    Review,
    Reviewer,
    ScoreEntry,
    certifications_for_ids,
    certified_credentials,
    route_queue,
    score,
)
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Forbidden, NotFound

log = logging.getLogger(__name__)


class CertificationBody(BaseModel):
    credential_id: UUID
    certified_at: AwareDatetime | None = Field(default=None, description="Defaults to now.")
    status: Literal["active", "revoked"] = "active"


class UpsertReviewer(BaseModel):
    """Create or update a reviewer.

    The original body ({credential_ids, max_open, active}) still works: ``credential_ids`` null means
    certified for every credential, a list is turned into dated certifications (a credential dropped
    from the list is revoked). ``certifications`` gives the dated records directly instead. A field
    among district, school, senior and availability left out of the body keeps its current value (its
    default for a new reviewer), so an older caller never wipes what it does not know about. One of
    ``credential_ids`` and ``certifications`` must be sent.
    """

    credential_ids: list[UUID] | None = Field(
        default=None, description="Credentials the reviewer is certified for; null = all."
    )
    certifications: list[CertificationBody] | None = Field(
        default=None, description="Dated certifications per credential; replaces credential_ids when given."
    )
    max_open: int = Field(default=10, ge=0, le=1000)
    active: bool = True
    district: str | None = Field(default=None, max_length=200)
    school: str | None = Field(default=None, max_length=200)
    senior: bool = Field(default=False, description="May adjudicate disagreements.")
    availability: Availability = Availability.AVAILABLE

    @model_validator(mode="after")
    def _one_source_of_certification(self) -> Self:
        # Saying nothing about certification is refused rather than read as "all" or "none".
        if not {"credential_ids", "certifications"} & self.model_fields_set:
            raise ValueError("certification is required: credential_ids (a list, or null for all) or certifications")
        if self.certifications is not None:
            if self.credential_ids is not None:
                raise ValueError("send either credential_ids or certifications, not both")
            ids = [c.credential_id for c in self.certifications]
            if len(ids) != len(set(ids)):
                raise ValueError("each credential may appear only once in certifications")
        return self


class DeclineReview(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why the reviewer declines or recuses.")


class CriterionScore(BaseModel):
    criterion_key: str = Field(min_length=1, max_length=80)
    level_key: str = Field(min_length=1, max_length=80)
    feedback: str = Field(default="", max_length=20_000)


class ScoreReview(BaseModel):
    # No min_length: an empty list is answered with the rubric-aware ``incomplete_scores`` error.
    results: list[CriterionScore]


@dataclass(frozen=True)
class Cause:
    """Where events produced by a use case come from: a consumed event, or an HTTP request."""

    correlation_id: UUID
    causation_id: UUID | None = None

    @classmethod
    def of(cls, event: IntegrationEvent) -> Cause:
        return cls(event.correlation_id, event.event_id)

    @classmethod
    def request(cls) -> Cause:
        return cls(current_correlation_id())


def _now() -> datetime:
    return datetime.now(UTC)


async def _drain_queue(uow: ReviewUnitOfWork, due_in: DueRule, cause: Cause) -> None:
    """Assign what can be assigned, oldest first. The caller holds the routing lock."""
    queue = await uow.reviews.queued()
    if not queue:
        return
    known = await uow.credentials.known(review.credential_key for review in queue)
    for review in route_queue(queue, await uow.reviewers.list(), known, _now(), due_in):
        await uow.reviews.save(review)
        assert review.reviewer_id is not None and review.due_at is not None  # set by assign()
        uow.publish(
            ReviewerAssigned(
                correlation_id=cause.correlation_id,
                causation_id=cause.causation_id,
                states=review.states,
                review_id=review.review_id,
                submission_id=review.submission_id,
                attempt=review.attempt,
                reviewer_id=review.reviewer_id,
                due_at=review.due_at,
                reassigned_from=review.reassigned_from,
                reassignment_reason=review.reassignment_reason,
            )
        )


async def record_credential(event: CredentialPublished, uow: ReviewUnitOfWork, due_in: DueRule) -> None:
    async with uow:
        if not await uow.claim("review.record_credential", event.event_id):
            return
        await uow.reviews.lock_routing()
        # Published versions never change, so a second announcement of the same version adds nothing.
        if await uow.credentials.get(event.credential_id, event.version) is None:
            await uow.credentials.add(
                CredentialRubric(event.credential_id, event.version, event.name, event.rubric)
            )
            await _drain_queue(uow, due_in, Cause.of(event))
        await uow.commit()


async def open_review(
    event: SubmissionSubmitted, uow: ReviewUnitOfWork, due_in: DueRule, *, fresh_eyes: bool = True
) -> None:
    """Open the review of a submitted attempt and route it.

    With ``fresh_eyes``, whoever scored an earlier attempt of the same submission is excluded, so a
    resubmission is judged by someone who has not already formed a view of it.
    """
    async with uow:
        if not await uow.claim("review.open_review", event.event_id):
            return
        await uow.reviews.lock_routing()
        # The attempt is the natural key: a re-announced attempt under a new event id opens nothing, and
        # neither does an attempt whose withdrawal overtook it (the two travel on different topics).
        if not await uow.reviews.exists_for_attempt(
            event.submission_id, event.attempt
        ) and not await uow.reviews.is_withdrawn(event.submission_id, event.attempt):
            excluded: set[str] = set()
            if fresh_eyes and event.attempt > 1:
                excluded = await uow.reviews.scorers_of_earlier_attempts(event.submission_id, event.attempt)
            await uow.reviews.save(
                Review(
                    review_id=uuid4(),
                    submission_id=event.submission_id,
                    attempt=event.attempt,
                    credential_id=event.credential_id,
                    credential_version=event.credential_version,
                    teacher_id=event.teacher_id,
                    states=event.states,
                    evidence=event.evidence,
                    created_at=_now(),
                    teacher_district=event.teacher_district,
                    teacher_school=event.teacher_school,
                    excluded_reviewers=frozenset(excluded),
                )
            )
            await _drain_queue(uow, due_in, Cause.of(event))
        await uow.commit()


async def withdraw_review(event: SubmissionWithdrawn, uow: ReviewUnitOfWork, due_in: DueRule) -> None:
    """Void the open review of the withdrawn attempt; the capacity it held goes to the queue at once."""
    async with uow:
        if not await uow.claim("review.withdraw_review", event.event_id):
            return
        await uow.reviews.lock_routing()
        now = _now()
        await uow.reviews.record_withdrawal(event.submission_id, event.attempt, event.reason, now)
        review = await uow.reviews.for_attempt(event.submission_id, event.attempt, for_update=True)
        if review is not None and review.withdraw(now, event.reason):
            await uow.reviews.save(review)
            await _drain_queue(uow, due_in, Cause.of(event))
        await uow.commit()


def _updated_reviewer(reviewer_id: str, command: UpsertReviewer, current: Reviewer | None, now: datetime) -> Reviewer:
    sent = command.model_fields_set
    base = current or Reviewer(reviewer_id=reviewer_id, credential_ids=frozenset())
    certifications: tuple[Certification, ...] = ()
    credential_ids: frozenset[UUID] | None = None
    if command.certifications is not None:
        certifications = tuple(
            Certification(c.credential_id, c.certified_at or now, c.status) for c in command.certifications
        )
        credential_ids = certified_credentials(certifications)
    elif command.credential_ids is not None:
        certifications = certifications_for_ids(command.credential_ids, base.certifications, now)
        credential_ids = certified_credentials(certifications)
    else:
        # null: certified for every credential; the dated records are kept as history.
        certifications = base.certifications
    return Reviewer(
        reviewer_id=reviewer_id,
        credential_ids=credential_ids,
        certifications=certifications,
        max_open=command.max_open,
        active=command.active,
        district=command.district if "district" in sent else base.district,
        school=command.school if "school" in sent else base.school,
        senior=command.senior if "senior" in sent else base.senior,
        availability=command.availability if "availability" in sent else base.availability,
        overdue_count=base.overdue_count,
    )


async def upsert_reviewer(
    reviewer_id: str, command: UpsertReviewer, uow: ReviewUnitOfWork, due_in: DueRule
) -> Reviewer:
    async with uow:
        await uow.reviews.lock_routing()
        current = await uow.reviewers.get(reviewer_id)
        await uow.reviewers.save(_updated_reviewer(reviewer_id, command, current, _now()))
        await _drain_queue(uow, due_in, Cause.request())
        reviewer = await uow.reviewers.get(reviewer_id)
        assert reviewer is not None  # saved above
        await uow.commit()
    return reviewer


async def decline_review(
    review_id: UUID, command: DeclineReview, principal: Principal, uow: ReviewUnitOfWork, due_in: DueRule
) -> Review:
    """The assigned reviewer declines or recuses: the review goes to someone else, or back to the queue."""
    async with uow:
        await uow.reviews.lock_routing()
        review = await uow.reviews.get(review_id, for_update=True)
        if review is None:
            raise NotFound(f"review {review_id} does not exist", code="review_not_found")
        review.decline(principal.subject, command.reason)
        await uow.reviews.save(review)
        await _drain_queue(uow, due_in, Cause.request())
        # Re-read: the drain may already have handed the review to someone else.
        found = await uow.reviews.get(review_id)
        assert found is not None  # saved above
        await uow.commit()
    return found


async def sweep_overdue(uow: ReviewUnitOfWork, due_in: DueRule, cause: Cause) -> int:
    """Take every overdue assignment back (reason "overdue"), count it against its reviewer, reroute.

    Returns how many assignments were taken back.
    """
    async with uow:
        await uow.reviews.lock_routing()
        now = _now()
        overdue = await uow.reviews.overdue(now)
        for review in overdue:
            await uow.reviewers.record_overdue(review.release("overdue"))
            await uow.reviews.save(review)
        if overdue:
            await _drain_queue(uow, due_in, cause)
        await uow.commit()
    return len(overdue)


async def run_overdue_sweeps(uow: Callable[[], ReviewUnitOfWork], due_in: DueRule, interval_seconds: float) -> None:
    """Sweep for overdue assignments every ``interval_seconds`` for as long as the service runs.

    A failed sweep is logged and retried on the next tick: one bad pass must not stop deadlines for good.
    """
    while True:
        try:
            taken_back = await sweep_overdue(uow(), due_in, Cause(uuid4()))
            if taken_back:
                log.info("overdue assignments reassigned", extra={"count": taken_back})
        except Exception:
            log.exception("overdue sweep failed")
        await asyncio.sleep(interval_seconds)


async def score_review(
    review_id: UUID, command: ScoreReview, principal: Principal, uow: ReviewUnitOfWork, due_in: DueRule
) -> Review:
    async with uow:
        await uow.reviews.lock_routing()
        review = await uow.reviews.get(review_id, for_update=True)
        if review is None:
            raise NotFound(f"review {review_id} does not exist", code="review_not_found")
        review.ensure_scorable_by(principal.subject)
        credential = await uow.credentials.get(review.credential_id, review.credential_version)
        assert credential is not None  # a review is only assigned once its credential is known
        scorecard = score(
            credential.rubric,
            [ScoreEntry(s.criterion_key, s.level_key, s.feedback) for s in command.results],
        )
        now = _now()
        review.record_score(principal.subject, scorecard, now)
        await uow.reviews.save(review)
        cause = Cause.request()
        uow.publish(
            SubmissionScored(
                correlation_id=cause.correlation_id,
                states=review.states,
                review_id=review.review_id,
                submission_id=review.submission_id,
                attempt=review.attempt,
                credential_id=review.credential_id,
                credential_version=review.credential_version,
                teacher_id=review.teacher_id,
                decision=scorecard.decision,
                results=scorecard.results,
                total_points=scorecard.total_points,
                scored_at=now,
            )
        )
        if scorecard.decision == "revise":
            uow.publish(
                RevisionRequested(
                    correlation_id=cause.correlation_id,
                    states=review.states,
                    review_id=review.review_id,
                    submission_id=review.submission_id,
                    attempt=review.attempt,
                    teacher_id=review.teacher_id,
                    feedback=scorecard.revision_feedback,
                )
            )
        await _drain_queue(uow, due_in, cause)
        await uow.commit()
    return review


async def view_review(
    review_id: UUID, principal: Principal, uow: ReviewUnitOfWork
) -> tuple[Review, CredentialRubric | None]:
    async with uow:
        review = await uow.reviews.get(review_id)
        if review is None:
            raise NotFound(f"review {review_id} does not exist", code="review_not_found")
        if not principal.has(Role.OPERATOR) and review.reviewer_id != principal.subject:
            raise Forbidden(f"review {review_id} is not assigned to you", code="not_assigned_to_you")
        return review, await uow.credentials.get(review.credential_id, review.credential_version)


async def queued_reviews(uow: ReviewUnitOfWork) -> list[tuple[Review, bool]]:
    """Queued reviews oldest first, each with whether its credential version is known yet."""
    async with uow:
        queue = await uow.reviews.queued()
        known = await uow.credentials.known(review.credential_key for review in queue)
        return [(review, review.credential_key in known) for review in queue]
