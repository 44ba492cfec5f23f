"""Review use cases. Each takes a command or event and a unit of work, and commits once.

Every write that can create a review or free or add capacity ends by draining the queue inside the
same unit of work, under the routing lock, so an assignment and the change that made it possible
commit (and emit ReviewerAssigned) together or not at all.

A reviewer acts on an attempt's review by its review id; which panel seat that means (primary,
second or adjudicator) follows from who they are, so each sees and scores only their own seat. To a
reviewer with no seat on the panel the review does not exist.

Work given back (a decline, or an overdue assignment the sweep takes) emits ReviewerReleased in the
same transaction: submission ends that reviewer's access then, not when the seat is filled again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, Self
from uuid import UUID, uuid4

from pydantic import Field, model_validator

from microcred.events import (
    CredentialPublished,
    IntegrationEvent,
    ReviewerAssigned,
    ReviewerReleased,
    RevisionRequested,
    Rubric,
    SubmissionScored,
    SubmissionSubmitted,
    SubmissionWithdrawn,
)
from microcred.review.adapters.metrics import ReliabilityGauges
from microcred.review.domain.listing import AssignedListing, AssignedSummary, Page, QueueListing
from microcred.review.domain.model import (
    NO_DOUBLE_SCORING,
    Availability,
    BusinessDays,
    Certification,
    CredentialRubric,
    DoubleScoringPolicy,
    DueRule,
    Outcome,
    Review,
    Reviewer,
    ReviewStatus,
    ScoreEntry,
    adjudicated_pair,
    certifications_for_ids,
    certified_credentials,
    completed_pair,
    page_was_enough,
    resolve,
    route_queue,
    score,
)
from microcred.review.domain.reliability import ReliabilityStats, Thresholds, credential_stats, reviewer_stats
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.api_types import Count, RequestModel, Text, Timestamp
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import NotFound

log = logging.getLogger(__name__)

# What a reviewer's summary counts as due soon: within two days, time enough to plan the week's reviews.
DUE_SOON = timedelta(days=2)


@dataclass(frozen=True)
class ReliabilityMonitor:
    """The thresholds reviewers are flagged against, and the gauges to refresh when a pair completes."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    gauges: ReliabilityGauges | None = None


DEFAULT_MONITOR = ReliabilityMonitor()


class CertificationBody(RequestModel):
    credential_id: UUID
    certified_at: Timestamp | None = Field(default=None, description="Defaults to now.")
    status: Literal["active", "revoked"] = "active"


class UpsertReviewer(RequestModel):
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
    max_open: Annotated[Count, Field(le=1000)] = 10
    active: bool = True
    district: Annotated[Text, Field(max_length=200)] | None = None
    school: Annotated[Text, Field(max_length=200)] | None = None
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


class DeclineReview(RequestModel):
    reason: Annotated[Text, Field(min_length=1, max_length=2000, description="Why the reviewer declines or recuses.")]


class CriterionScore(RequestModel):
    criterion_key: Annotated[Text, Field(min_length=1, max_length=80)]
    level_key: Annotated[Text, Field(min_length=1, max_length=80)]
    feedback: Annotated[Text, Field(max_length=20_000)] = ""


class ScoreReview(RequestModel):
    # No min_length: an empty list is answered with the rubric-aware ``incomplete_scores`` error.
    results: list[CriterionScore] = Field(max_length=200)


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


async def _drain_queue(uow: ReviewUnitOfWork, due_in: DueRule, cause: Cause, *, block_flagged: bool = False) -> None:
    """Assign what can be assigned, oldest first. The caller holds the routing lock.

    With ``block_flagged``, reviewers flagged for recalibration get no new work (what they hold stays).
    """
    queue = await uow.reviews.queued()
    if not queue:
        return
    known = await uow.credentials.known(review.credential_key for review in queue)
    panels = await uow.reviews.panel_reviewers(review.attempt_review_id for review in queue)
    now = _now()
    # Route against the least-loaded page of reviewers first: with thousands of reviewers, loading them
    # all for every decision was the bottleneck. The page gives the same answer as the whole registry
    # when every choice ranked ahead of the first reviewer left out (see page_was_enough); otherwise
    # the pass is redone against everyone.
    size = 4 * len(queue) + 64
    candidates = await uow.reviewers.least_loaded(size + 1, exclude_flagged=block_flagged)
    page, boundary = candidates[:size], (candidates[size] if len(candidates) > size else None)
    assigned = route_queue(queue, page, known, now, due_in, panels)
    if not page_was_enough(queue, assigned, page, known, boundary):
        queue = await uow.reviews.queued()
        everyone = [r for r in await uow.reviewers.list() if not (block_flagged and r.flagged)]
        assigned = route_queue(queue, everyone, known, now, due_in, panels)
    for review in assigned:
        await uow.reviews.save(review)
        assert review.reviewer_id is not None and review.due_at is not None  # set by assign()
        uow.publish(
            ReviewerAssigned(
                correlation_id=cause.correlation_id,
                causation_id=cause.causation_id,
                states=review.states,
                review_id=review.attempt_review_id,
                submission_id=review.submission_id,
                attempt=review.attempt,
                reviewer_id=review.reviewer_id,
                due_at=review.due_at,
                role=review.role,
                reassigned_from=review.reassigned_from,
                reassignment_reason=review.reassignment_reason,
            )
        )


def _publish_release(
    uow: ReviewUnitOfWork, review: Review, reviewer_id: str, reason: Literal["declined", "overdue"], now: datetime,
    cause: Cause,
) -> None:
    """Tell submission the reviewer gave the seat back, in the release's transaction: their access ends now,
    not when someone else is assigned (which may be never, if nobody else is eligible)."""
    uow.publish(
        ReviewerReleased(
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
            states=review.states,
            review_id=review.attempt_review_id,
            submission_id=review.submission_id,
            attempt=review.attempt,
            reviewer_id=reviewer_id,
            role=review.role,
            reason=reason,
            released_at=now,
        )
    )


async def record_credential(
    event: CredentialPublished, uow: ReviewUnitOfWork, due_in: DueRule, *, block_flagged: bool = False
) -> None:
    async with uow:
        if not await uow.claim("review.record_credential", event.event_id):
            return
        await uow.reviews.lock_routing()
        # Published versions never change, so a second announcement of the same version adds nothing.
        if await uow.credentials.get(event.credential_id, event.version) is None:
            await uow.credentials.add(
                CredentialRubric(
                    event.credential_id, event.version, event.name, event.rubric, event.calibration_size
                )
            )
            await _drain_queue(uow, due_in, Cause.of(event), block_flagged=block_flagged)
        await uow.commit()


async def open_review(
    event: SubmissionSubmitted,
    uow: ReviewUnitOfWork,
    due_in: DueRule,
    *,
    fresh_eyes: bool = True,
    double_scoring: DoubleScoringPolicy = NO_DOUBLE_SCORING,
    block_flagged: bool = False,
) -> None:
    """Open the review of a submitted attempt and route it, with a second seat when it is double scored.

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
            # A version not yet announced falls back to the setting: the seat decision is made now.
            credential = await uow.credentials.get(event.credential_id, event.credential_version)
            policy = double_scoring.for_version(credential.calibration_size if credential else None)
            calibration = policy.calibration_size
            earlier = calibration and await uow.reviews.attempts_of_version(
                event.credential_id, event.credential_version, at_most=calibration
            )
            review = Review(
                review_id=uuid4(),
                submission_id=event.submission_id,
                attempt=event.attempt,
                credential_id=event.credential_id,
                credential_version=event.credential_version,
                teacher_id=event.teacher_id,
                states=event.states,
                evidence=event.evidence,
                created_at=_now(),
                submitted_at=event.occurred_at,
                teacher_district=event.teacher_district,
                teacher_school=event.teacher_school,
                teacher_note=event.note_to_reviewer,
                excluded_reviewers=frozenset(excluded),
            )
            await uow.reviews.save(review)
            if policy.needs_second(review.review_id, earlier):
                await uow.reviews.save(review.seat("second", uuid4(), review.created_at))
            await _drain_queue(uow, due_in, Cause.of(event), block_flagged=block_flagged)
        await uow.commit()


async def withdraw_review(
    event: SubmissionWithdrawn, uow: ReviewUnitOfWork, due_in: DueRule, *, block_flagged: bool = False
) -> None:
    """Void the open seats of the withdrawn attempt; the capacity they held goes to the queue at once."""
    async with uow:
        if not await uow.claim("review.withdraw_review", event.event_id):
            return
        await uow.reviews.lock_routing()
        now = _now()
        await uow.reviews.record_withdrawal(event.submission_id, event.attempt, event.reason, now)
        voided = [r for r in await uow.reviews.panel_for_attempt(event.submission_id, event.attempt)
                  if r.withdraw(now, event.reason)]
        for review in voided:
            await uow.reviews.save(review)
        if voided:
            await _drain_queue(uow, due_in, Cause.of(event), block_flagged=block_flagged)
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
    reviewer_id: str, command: UpsertReviewer, uow: ReviewUnitOfWork, due_in: DueRule, *, block_flagged: bool = False
) -> Reviewer:
    async with uow:
        await uow.reviews.lock_routing()
        current = await uow.reviewers.get(reviewer_id)
        await uow.reviewers.save(_updated_reviewer(reviewer_id, command, current, _now()))
        await _drain_queue(uow, due_in, Cause.request(), block_flagged=block_flagged)
        reviewer = await uow.reviewers.get(reviewer_id)
        assert reviewer is not None  # saved above
        await uow.commit()
    return reviewer


async def decline_review(
    review_id: UUID,
    command: DeclineReview,
    principal: Principal,
    uow: ReviewUnitOfWork,
    due_in: DueRule,
    *,
    block_flagged: bool = False,
) -> Review:
    """The assigned reviewer declines or recuses: the review goes to someone else, or back to the queue."""
    async with uow:
        await uow.reviews.lock_routing()
        review = _seat_of(await _panel(uow, review_id), principal.subject)
        review.decline(principal.subject, command.reason)
        await uow.reviews.save(review)
        cause = Cause.request()
        _publish_release(uow, review, principal.subject, "declined", _now(), cause)
        await _drain_queue(uow, due_in, cause, block_flagged=block_flagged)
        # Re-read: the drain may already have handed the review to someone else.
        found = await uow.reviews.get(review.review_id)
        assert found is not None  # saved above
        await uow.commit()
    return found


async def sweep_overdue(uow: ReviewUnitOfWork, due_in: DueRule, cause: Cause, *, block_flagged: bool = False) -> int:
    """Take every overdue assignment back (reason "overdue"), count it against its reviewer, reroute.

    Returns how many assignments were taken back.
    """
    async with uow:
        await uow.reviews.lock_routing()
        now = _now()
        overdue = await uow.reviews.overdue(now)
        for review in overdue:
            reviewer_id = review.release("overdue")
            await uow.reviewers.record_overdue(reviewer_id)
            await uow.reviews.save(review)
            _publish_release(uow, review, reviewer_id, "overdue", now, cause)
        if overdue:
            await _drain_queue(uow, due_in, cause, block_flagged=block_flagged)
        await uow.commit()
    return len(overdue)


async def run_overdue_sweeps(
    uow: Callable[[], ReviewUnitOfWork], due_in: DueRule, interval_seconds: float, *, block_flagged: bool = False
) -> None:
    """Sweep for overdue assignments every ``interval_seconds`` for as long as the service runs.

    A failed sweep is logged and retried on the next tick: one bad pass must not stop deadlines for good.
    """
    while True:
        try:
            taken_back = await sweep_overdue(uow(), due_in, Cause(uuid4()), block_flagged=block_flagged)
            if taken_back:
                log.info("overdue assignments reassigned", extra={"count": taken_back})
        except Exception:
            log.exception("overdue sweep failed")
        await asyncio.sleep(interval_seconds)


async def _panel(uow: ReviewUnitOfWork, review_id: UUID, *, for_update: bool = True) -> list[Review]:
    """The attempt's panel, primary first, by the attempt's review id; NotFound for any other id."""
    primary = await uow.reviews.get(review_id, for_update=for_update)
    if primary is None or primary.parent_review_id is not None:
        raise NotFound(f"review {review_id} does not exist", code="review_not_found")
    return [primary, *await uow.reviews.seats_of(review_id, for_update=for_update)]


def _seat_of(panel: list[Review], reviewer_id: str) -> Review:
    """The seat this reviewer acts on: their open one, else one they scored (or whose attempt was withdrawn).

    Someone with no seat on the panel (never assigned, or released from it) is told the review does not
    exist, exactly as for an id nobody has: who holds which review is not theirs to learn.
    """
    mine = [r for r in panel if r.reviewer_id == reviewer_id]
    if not mine:
        raise NotFound(f"review {panel[0].review_id} does not exist", code="review_not_found")
    return next((r for r in mine if r.status is ReviewStatus.ASSIGNED), mine[0])


def _publish_outcome(uow: ReviewUnitOfWork, primary: Review, outcome: Outcome, now: datetime, cause: Cause) -> None:
    card = outcome.scorecard
    uow.note_decision(card.decision, (now - primary.decision_clock_start).total_seconds())
    uow.publish(
        SubmissionScored(
            correlation_id=cause.correlation_id,
            states=primary.states,
            review_id=primary.review_id,
            submission_id=primary.submission_id,
            attempt=primary.attempt,
            credential_id=primary.credential_id,
            credential_version=primary.credential_version,
            teacher_id=primary.teacher_id,
            decision=card.decision,
            results=card.results,
            total_points=card.total_points,
            scored_at=now,
            double_scored=outcome.double_scored,
            adjudicated=outcome.adjudicated,
        )
    )
    if card.decision == "revise":
        uow.publish(
            RevisionRequested(
                correlation_id=cause.correlation_id,
                states=primary.states,
                review_id=primary.review_id,
                submission_id=primary.submission_id,
                attempt=primary.attempt,
                teacher_id=primary.teacher_id,
                feedback=card.revision_feedback,
            )
        )


async def score_review(
    review_id: UUID,
    command: ScoreReview,
    principal: Principal,
    uow: ReviewUnitOfWork,
    due_in: DueRule,
    *,
    block_flagged: bool = False,
    monitor: ReliabilityMonitor = DEFAULT_MONITOR,
) -> Review:
    """Record one reviewer's scores on their seat; the teacher hears only once the panel has decided.

    Single scored: the reviewer's decision. Double scored: nothing until both have scored; then the
    agreed decision, or an adjudicator seat (senior, not on the panel; queued if nobody qualifies)
    whose scores alone decide. A completed pair (and later its adjudication) is recorded for the
    reliability statistics, and its two reviewers' flags and gauges are refreshed.
    """
    async with uow:
        await uow.reviews.lock_routing()
        panel = await _panel(uow, review_id)
        review = _seat_of(panel, principal.subject)
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
        panel = [review if r.review_id == review.review_id else r for r in panel]
        cause = Cause.request()
        outcome = resolve(credential.rubric, panel)
        if outcome == "adjudicate":
            await uow.reviews.save(panel[0].seat("adjudicator", uuid4(), now))
        elif outcome is not None:
            _publish_outcome(uow, panel[0], outcome, now, cause)
        refreshed = await _record_reliability(uow, credential.rubric, panel, review, monitor.thresholds)
        await _drain_queue(uow, due_in, cause, block_flagged=block_flagged)
        flagged = await uow.reviewers.flagged_count() if refreshed else 0
        await uow.commit()
    if refreshed and monitor.gauges is not None:
        # Only after the commit: a rolled-back score must not move the figures operators watch.
        for reviewer_id, stats in refreshed.items():
            monitor.gauges.observe(reviewer_id, stats)
        monitor.gauges.flagged_reviewers(flagged)
    return review


async def _record_reliability(
    uow: ReviewUnitOfWork, rubric: Rubric, panel: list[Review], scored: Review, thresholds: Thresholds
) -> dict[str, ReliabilityStats]:
    """Record the pair this score completed (or adjudicated); refresh its reviewers' flags.

    Returns the refreshed statistics per reviewer, empty when this score completed nothing.
    """
    pair = completed_pair(rubric, panel, scored)
    if pair is None and scored.role == "adjudicator":
        recorded = await uow.pairs.get(scored.attempt_review_id)
        pair = None if recorded is None else adjudicated_pair(rubric, recorded, scored)
    if pair is None:
        return {}
    await uow.pairs.save(pair)
    refreshed: dict[str, ReliabilityStats] = {}
    for reviewer_id in (pair.primary_reviewer, pair.second_reviewer):
        stats = reviewer_stats(await uow.pairs.of_reviewer(reviewer_id), reviewer_id, thresholds)
        await uow.reviewers.set_flagged(reviewer_id, stats.flagged)
        refreshed[reviewer_id] = stats
    return refreshed


async def view_review(
    review_id: UUID, principal: Principal, uow: ReviewUnitOfWork
) -> tuple[Review, CredentialRubric | None]:
    async with uow:
        # Three reads, each its own snapshot, as they were at READ COMMITTED inside a transaction: the seats are
        # read after the primary, and a credential version, once recorded, never changes.
        await uow.without_transaction()
        panel = await _panel(uow, review_id, for_update=False)
        mine = any(r.reviewer_id == principal.subject for r in panel)
        review = panel[0] if principal.has(Role.OPERATOR) and not mine else _seat_of(panel, principal.subject)
        return review, await uow.credentials.get(review.credential_id, review.credential_version)


@dataclass(frozen=True)
class ReliabilityReport:
    reviewers: dict[str, ReliabilityStats]
    credentials: dict[UUID, ReliabilityStats]


async def reliability_report(uow: ReviewUnitOfWork, thresholds: Thresholds) -> ReliabilityReport:
    """Statistics and flags under the current thresholds for every reviewer and credential with
    double-scored work."""
    async with uow:
        await uow.without_transaction()  # one statement
        pairs = await uow.pairs.all()
    reviewer_ids = sorted({p.primary_reviewer for p in pairs} | {p.second_reviewer for p in pairs})
    credential_ids = sorted({p.credential_id for p in pairs}, key=str)
    return ReliabilityReport(
        reviewers={r: reviewer_stats(pairs, r, thresholds) for r in reviewer_ids},
        credentials={c: credential_stats(pairs, c, thresholds) for c in credential_ids},
    )


async def refresh_gauges(uow: ReviewUnitOfWork, promise: BusinessDays, now: datetime | None = None) -> None:
    """Re-read the queue gauges (open, waiting, overdue): one query over the open seats, read-only."""
    async with uow:
        await uow.without_transaction()  # one statement
        backlog = await uow.reviews.backlog(now or _now(), promise)
    uow.metrics.set_backlog(backlog)


async def queued_reviews(uow: ReviewUnitOfWork) -> list[tuple[Review, bool]]:
    """Queued reviews oldest first, each with whether its credential version is known yet."""
    async with uow:
        queue = await uow.reviews.queued()
        known = await uow.credentials.known(review.credential_key for review in queue)
        return [(review, review.credential_key in known) for review in queue]


async def queued_page(uow: ReviewUnitOfWork, listing: QueueListing) -> tuple[list[tuple[Review, bool]], int]:
    """A page of the waiting queue, each with whether its credential version is known yet, and the total."""
    async with uow:
        # The page and its total in one statement; whether each version is known is read after it, and can only
        # have become true since (versions are recorded once and never removed), as at READ COMMITTED before.
        await uow.without_transaction()
        page = await uow.reviews.queued_page(listing)
        known = await uow.credentials.known(review.credential_key for review in page.reviews)
        return [(review, review.credential_key in known) for review in page.reviews], page.total


async def assigned_page(reviewer_id: str, listing: AssignedListing, uow: ReviewUnitOfWork) -> Page:
    async with uow:
        # The reviewers' polling: one statement, the page and its total in one snapshot (ReviewRepository._page).
        await uow.without_transaction()
        return await uow.reviews.assigned_page(reviewer_id, listing, _now())


async def assigned_summary(reviewer_id: str, uow: ReviewUnitOfWork, *, soon: timedelta = DUE_SOON) -> AssignedSummary:
    now = _now()
    async with uow:
        await uow.without_transaction()  # one statement: the counts and their totals agree
        return await uow.reviews.assigned_summary(reviewer_id, now, now + soon)


async def own_reliability(reviewer_id: str, uow: ReviewUnitOfWork, thresholds: Thresholds) -> ReliabilityStats:
    """A reviewer's own agreement and kappa over the double-scored work they took part in, nobody else's."""
    async with uow:
        await uow.without_transaction()  # one statement
        pairs = await uow.pairs.of_reviewer(reviewer_id)
    return reviewer_stats(pairs, reviewer_id, thresholds)
