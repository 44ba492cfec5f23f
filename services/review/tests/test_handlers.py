"""Review use cases driven through in-memory fakes: which rubric a review is scored against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from microcred.events import (
    CredentialPublished,
    EvidenceRef,
    IssuerProfile,
    PassingRule,
    Resource,
    ReviewerAssigned,
    ReviewerReleased,
    RevisionRequested,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SubmissionCriteria,
    SubmissionScored,
    SubmissionSubmitted,
    SubmissionWithdrawn,
)
from microcred.review.adapters.metrics import ReliabilityGauges
from microcred.review.domain.model import (
    Availability,
    BusinessDays,
    CredentialKey,
    CredentialRubric,
    DoubleScoringPolicy,
    Review,
    Reviewer,
    ReviewStatus,
)
from microcred.review.domain.reliability import ScoredPair, Thresholds
from microcred.review.service_layer import handlers
from microcred.review.service_layer.handlers import CriterionScore, ScoreReview, UpsertReviewer
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict, Invalid, NotFound
from microcred.runtime.testing import FakeMessagingUnitOfWork

DUE_IN = timedelta(days=14)
LEVELS = (
    RubricLevel(key="not-yet", name="Not Yet", points=0),
    RubricLevel(key="proficient", name="Proficient", points=1),
)


class FakeCredentials:
    def __init__(self) -> None:
        self.rows: dict[CredentialKey, CredentialRubric] = {}

    async def get(self, credential_id: UUID, version: int) -> CredentialRubric | None:
        return self.rows.get((credential_id, version))

    async def add(self, credential: CredentialRubric) -> None:
        self.rows[(credential.credential_id, credential.version)] = credential

    async def known(self, keys: Iterable[CredentialKey]) -> set[CredentialKey]:
        return {key for key in keys if key in self.rows}


class FakeReviews:
    def __init__(self) -> None:
        self.rows: dict[UUID, Review] = {}
        self.withdrawn: dict[tuple[UUID, int], str | None] = {}

    async def lock_routing(self) -> None:
        """Nothing to lock: the fakes run one use case at a time."""

    async def get(self, review_id: UUID, *, for_update: bool = False) -> Review | None:
        found = self.rows.get(review_id)
        return None if found is None else replace(found)

    async def exists_for_attempt(self, submission_id: UUID, attempt: int) -> bool:
        return any((r.submission_id, r.attempt) == (submission_id, attempt) for r in self.rows.values())

    async def panel_for_attempt(self, submission_id: UUID, attempt: int) -> list[Review]:
        found = [replace(r) for r in self.rows.values() if (r.submission_id, r.attempt) == (submission_id, attempt)]
        return sorted(found, key=lambda r: (r.parent_review_id is not None, r.created_at, str(r.review_id)))

    async def seats_of(self, review_id: UUID, *, for_update: bool = False) -> list[Review]:
        found = [replace(r) for r in self.rows.values() if r.parent_review_id == review_id]
        return sorted(found, key=lambda r: (r.created_at, str(r.review_id)))

    async def panel_reviewers(self, review_ids: Iterable[UUID]) -> dict[UUID, set[str]]:
        wanted = set(review_ids)
        panels: dict[UUID, set[str]] = {}
        for r in self.rows.values():
            if r.attempt_review_id in wanted and r.reviewer_id is not None and r.status in (
                ReviewStatus.ASSIGNED, ReviewStatus.SCORED
            ):
                panels.setdefault(r.attempt_review_id, set()).add(r.reviewer_id)
        return panels

    async def attempts_of_version(self, credential_id: UUID, version: int, *, at_most: int) -> int:
        return min(at_most, sum(
            1 for r in self.rows.values()
            if (r.credential_id, r.credential_version) == (credential_id, version) and r.parent_review_id is None
        ))

    async def record_withdrawal(self, submission_id: UUID, attempt: int, reason: str | None, at: datetime) -> None:
        self.withdrawn.setdefault((submission_id, attempt), reason)

    async def is_withdrawn(self, submission_id: UUID, attempt: int) -> bool:
        return (submission_id, attempt) in self.withdrawn

    async def scorers_of_earlier_attempts(self, submission_id: UUID, attempt: int) -> set[str]:
        return {
            r.reviewer_id for r in self.rows.values()
            if r.submission_id == submission_id and r.attempt < attempt and r.status is ReviewStatus.SCORED
            and r.reviewer_id is not None
        }

    async def overdue(self, now: datetime) -> list[Review]:
        found = [replace(r) for r in self.rows.values() if r.is_overdue(now)]
        return sorted(found, key=lambda r: (r.due_at or now, str(r.review_id)))

    async def queued(self) -> list[Review]:
        queue = [replace(r) for r in self.rows.values() if r.status is ReviewStatus.QUEUED]
        return sorted(queue, key=lambda r: (r.created_at, str(r.review_id)))

    async def save(self, review: Review) -> None:
        self.rows[review.review_id] = replace(review)


class FakeReviewers:
    def __init__(self, reviews: FakeReviews) -> None:
        self.rows: dict[str, Reviewer] = {}
        self.reviews = reviews

    def _with_load(self, reviewer: Reviewer) -> Reviewer:
        load = sum(
            1 for r in self.reviews.rows.values()
            if r.reviewer_id == reviewer.reviewer_id and r.status is ReviewStatus.ASSIGNED
        )
        return replace(reviewer, open_reviews=load)

    async def get(self, reviewer_id: str) -> Reviewer | None:
        found = self.rows.get(reviewer_id)
        return None if found is None else self._with_load(found)

    async def list(self) -> list[Reviewer]:
        return [self._with_load(r) for _, r in sorted(self.rows.items())]

    async def least_loaded(self, limit: int, *, exclude_flagged: bool) -> list[Reviewer]:
        """The real query's contract: willing and under capacity, (open_reviews, id) order, ``limit`` long."""
        candidates = [
            r for r in await self.list()
            if r.active and r.availability is Availability.AVAILABLE and r.open_reviews < r.max_open
            and not (exclude_flagged and r.flagged)
        ]
        return sorted(candidates, key=lambda r: (r.open_reviews, r.reviewer_id))[:limit]

    async def save(self, reviewer: Reviewer) -> None:
        # Like the real table: the overdue count is moved only by record_overdue.
        kept = self.rows[reviewer.reviewer_id].overdue_count if reviewer.reviewer_id in self.rows else 0
        self.rows[reviewer.reviewer_id] = replace(reviewer, overdue_count=kept)

    async def record_overdue(self, reviewer_id: str) -> None:
        found = self.rows[reviewer_id]
        self.rows[reviewer_id] = replace(found, overdue_count=found.overdue_count + 1)

    async def set_flagged(self, reviewer_id: str, flagged: bool) -> None:
        if reviewer_id in self.rows:
            self.rows[reviewer_id] = replace(self.rows[reviewer_id], flagged=flagged)

    async def flagged_count(self) -> int:
        return sum(1 for r in self.rows.values() if r.flagged)


class FakePairs:
    def __init__(self) -> None:
        self.rows: dict[UUID, ScoredPair] = {}

    async def get(self, review_id: UUID) -> ScoredPair | None:
        return self.rows.get(review_id)

    async def save(self, pair: ScoredPair) -> None:
        self.rows[pair.review_id] = pair

    async def of_reviewer(self, reviewer_id: str) -> list[ScoredPair]:
        return [p for p in self.rows.values() if p.involves(reviewer_id)]

    async def all(self) -> list[ScoredPair]:
        return list(self.rows.values())


class FakeUnitOfWork(FakeMessagingUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.credentials = FakeCredentials()
        self.reviews = FakeReviews()
        self.reviewers = FakeReviewers(self.reviews)
        self.pairs = FakePairs()
        self.decisions: list[tuple[str, float]] = []

    def note_decision(self, decision: str, seconds_since_submit: float) -> None:
        self.decisions.append((decision, seconds_since_submit))


@pytest.fixture
def uow() -> Any:
    return FakeUnitOfWork()


def published(credential_id: UUID, version: int, rubric: Rubric) -> CredentialPublished:
    return CredentialPublished(
        correlation_id=uuid4(), credential_id=credential_id, version=version,
        issuer=IssuerProfile(issuer_id=uuid4(), name="Issuer"), name=f"Credential v{version}", description="d",
        competency="c", key_method="k", method_components=("m",), research=(Resource(title="r"),),
        submission_criteria=SubmissionCriteria.model_validate({"items": [{"key": "v", "kind": "video", "title": "V"}]}),
        rubric=rubric,
    )


def rubric(*criterion_keys: str) -> Rubric:
    return Rubric(
        criteria=tuple(RubricCriterion(key=key, name=key.title(), levels=LEVELS) for key in criterion_keys),
        passing_rule=PassingRule(kind="all_criteria_at_least", level="proficient"),
    )


def submitted(credential_id: UUID, version: int) -> SubmissionSubmitted:
    return SubmissionSubmitted(
        correlation_id=uuid4(), submission_id=uuid4(), attempt=1, credential_id=credential_id,
        credential_version=version, teacher_id="teacher-1",
        evidence=(EvidenceRef(evidence_id=uuid4(), requirement_key="v", object_key="k", filename="v.mp4",
                              content_type="video/mp4", size_bytes=10, sha256="0" * 64),),
    )


def scores(*criterion_keys: str) -> ScoreReview:
    return ScoreReview(results=[CriterionScore(criterion_key=k, level_key="proficient") for k in criterion_keys])


ALICE = Principal(subject="alice", roles=frozenset({Role.REVIEWER}))


async def test_a_review_of_version_one_is_scored_against_version_ones_rubric_after_version_two_arrives(
    uow: Any,
) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id, 1, rubric("planning", "delivery")), uow, DUE_IN)
    submission = submitted(credential_id, 1)
    await handlers.open_review(submission, uow, DUE_IN)
    await handlers.record_credential(published(credential_id, 2, rubric("planning", "assessment")), uow, DUE_IN)
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    (assignment,) = [e for e in uow.published if isinstance(e, ReviewerAssigned)]

    with pytest.raises(Invalid) as refused:
        await handlers.score_review(assignment.review_id, scores("planning", "assessment"), ALICE, uow, DUE_IN)
    assert refused.value.code == "unknown_criterion" and refused.value.details == {"criteria": ["assessment"]}

    review = await handlers.score_review(assignment.review_id, scores("planning", "delivery"), ALICE, uow, DUE_IN)
    assert review.status is ReviewStatus.SCORED
    (scored,) = [e for e in uow.published if isinstance(e, SubmissionScored)]
    assert (scored.credential_version, scored.decision) == (1, "passed")
    assert [r.criterion_key for r in scored.results] == ["planning", "delivery"]


async def test_a_decision_notes_the_time_since_the_teachers_submit_not_since_review_heard_of_it(uow: Any) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id, 1, rubric("planning")), uow, DUE_IN)
    submission = submitted(credential_id, 1).model_copy(
        update={"occurred_at": datetime.now(UTC) - timedelta(days=3)})
    await handlers.open_review(submission, uow, DUE_IN)
    assert review_of(uow, submission).submitted_at == submission.occurred_at
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    (assignment,) = [e for e in uow.published if isinstance(e, ReviewerAssigned)]
    await handlers.score_review(assignment.review_id, scores("planning"), ALICE, uow, DUE_IN)
    (scored,) = [e for e in uow.published if isinstance(e, SubmissionScored)]
    assert uow.decisions == [("passed", (scored.scored_at - submission.occurred_at).total_seconds())]


async def test_a_review_of_version_two_is_scored_against_version_twos_rubric(uow: Any) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id, 1, rubric("planning", "delivery")), uow, DUE_IN)
    await handlers.record_credential(published(credential_id, 2, rubric("planning", "assessment")), uow, DUE_IN)
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    await handlers.open_review(submitted(credential_id, 2), uow, DUE_IN)
    (assignment,) = [e for e in uow.published if isinstance(e, ReviewerAssigned)]

    with pytest.raises(Invalid) as refused:
        await handlers.score_review(assignment.review_id, scores("planning", "delivery"), ALICE, uow, DUE_IN)
    assert refused.value.details == {"criteria": ["delivery"]}
    await handlers.score_review(assignment.review_id, scores("planning", "assessment"), ALICE, uow, DUE_IN)


async def test_a_redelivered_credential_version_changes_nothing(uow: Any) -> None:
    credential_id = uuid4()
    event = published(credential_id, 1, rubric("planning"))
    await handlers.record_credential(event, uow, DUE_IN)
    await handlers.record_credential(event, uow, DUE_IN)
    assert list(uow.credentials.rows) == [(credential_id, 1)]
    assert ("review.record_credential", event.event_id) in uow.claimed


def withdrawn(submission: SubmissionSubmitted, reason: str | None = "changed schools") -> SubmissionWithdrawn:
    return SubmissionWithdrawn(correlation_id=uuid4(), submission_id=submission.submission_id,
                               attempt=submission.attempt, teacher_id=submission.teacher_id, reason=reason)


async def credential_with_reviewer(uow: Any, max_open: int = 10) -> UUID:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id, 1, rubric("planning")), uow, DUE_IN)
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None, max_open=max_open), uow, DUE_IN)
    return credential_id


def review_of(uow: Any, submission: SubmissionSubmitted) -> Review:
    (review,) = [
        r for r in uow.reviews.rows.values() if r.submission_id == submission.submission_id and r.role == "primary"
    ]
    return review


async def test_withdrawing_an_assigned_attempt_frees_the_reviewer_for_the_next_in_the_queue(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow, max_open=1)
    first, second = submitted(credential_id, 1), submitted(credential_id, 1)
    await handlers.open_review(first, uow, DUE_IN)
    await handlers.open_review(second, uow, DUE_IN)
    assert review_of(uow, second).status is ReviewStatus.QUEUED

    withdrawal = withdrawn(first)
    await handlers.withdraw_review(withdrawal, uow, DUE_IN)

    cancelled = review_of(uow, first)
    assert cancelled.status is ReviewStatus.WITHDRAWN and cancelled.withdrawal_reason == "changed schools"
    assert review_of(uow, second).status is ReviewStatus.ASSIGNED
    assignments = [e for e in uow.published if isinstance(e, ReviewerAssigned)]
    assert [a.submission_id for a in assignments] == [first.submission_id, second.submission_id]
    assert assignments[-1].causation_id == withdrawal.event_id
    assert (await uow.reviewers.get("alice")).open_reviews == 1


async def test_withdrawing_a_queued_attempt_takes_it_out_of_the_queue(uow: Any) -> None:
    credential_id = uuid4()
    submission = submitted(credential_id, 1)
    await handlers.open_review(submission, uow, DUE_IN)
    await handlers.withdraw_review(withdrawn(submission), uow, DUE_IN)
    assert review_of(uow, submission).status is ReviewStatus.WITHDRAWN
    assert await handlers.queued_reviews(uow) == []


async def test_a_scored_review_stays_scored_when_its_attempt_is_withdrawn(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    submission = submitted(credential_id, 1)
    await handlers.open_review(submission, uow, DUE_IN)
    await handlers.score_review(review_of(uow, submission).review_id, scores("planning"), ALICE, uow, DUE_IN)
    await handlers.withdraw_review(withdrawn(submission), uow, DUE_IN)
    review = review_of(uow, submission)
    assert review.status is ReviewStatus.SCORED and review.withdrawn_at is None
    assert review.scorecard is not None and review.scorecard.decision == "passed"


async def test_scoring_a_withdrawn_review_is_refused_as_withdrawn(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    submission = submitted(credential_id, 1)
    await handlers.open_review(submission, uow, DUE_IN)
    await handlers.withdraw_review(withdrawn(submission), uow, DUE_IN)
    published_before = len(uow.published)
    with pytest.raises(Conflict) as refused:
        await handlers.score_review(review_of(uow, submission).review_id, scores("planning"), ALICE, uow, DUE_IN)
    assert refused.value.code == "review_withdrawn"
    assert len(uow.published) == published_before


async def test_a_redelivered_withdrawal_changes_nothing(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    submission = submitted(credential_id, 1)
    await handlers.open_review(submission, uow, DUE_IN)
    event = withdrawn(submission)
    await handlers.withdraw_review(event, uow, DUE_IN)
    first = review_of(uow, submission)
    published_before = len(uow.published)
    await handlers.withdraw_review(event, uow, DUE_IN)
    assert review_of(uow, submission) == first
    assert len(uow.published) == published_before
    assert ("review.withdraw_review", event.event_id) in uow.claimed


async def test_a_withdrawal_that_overtakes_its_submission_means_no_review_is_opened(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    submission = submitted(credential_id, 1)
    await handlers.withdraw_review(withdrawn(submission), uow, DUE_IN)
    await handlers.open_review(submission, uow, DUE_IN)
    assert uow.reviews.rows == {}
    assert not [e for e in uow.published if isinstance(e, ReviewerAssigned)]


async def test_withdrawing_one_attempt_leaves_the_next_attempt_of_the_submission_open(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    first = submitted(credential_id, 1)
    await handlers.open_review(first, uow, DUE_IN)
    await handlers.withdraw_review(withdrawn(first), uow, DUE_IN)
    second = first.model_copy(update={"event_id": uuid4(), "attempt": 2})
    await handlers.open_review(second, uow, DUE_IN)
    statuses = {r.attempt: r.status for r in uow.reviews.rows.values()}
    assert statuses == {1: ReviewStatus.WITHDRAWN, 2: ReviewStatus.ASSIGNED}


BOB = Principal(subject="bob", roles=frozenset({Role.REVIEWER}))
OPERATOR_CAUSE = handlers.Cause(uuid4())


def assignments(uow: Any) -> list[ReviewerAssigned]:
    return [e for e in uow.published if isinstance(e, ReviewerAssigned)]


async def two_reviewers(uow: Any, **bob: Any) -> UUID:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id, 1, rubric("planning")), uow, DUE_IN)
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    await handlers.upsert_reviewer("bob", UpsertReviewer.model_validate({"credential_ids": None, **bob}), uow, DUE_IN)
    return credential_id


async def test_the_original_registry_body_keeps_affiliations_seniority_and_availability(uow: Any) -> None:
    await handlers.upsert_reviewer(
        "alice",
        UpsertReviewer.model_validate(
            {"credential_ids": None, "district": "Metro", "school": "Hillside", "senior": True, "availability": "paused"}
        ),
        uow, DUE_IN,
    )
    updated = await handlers.upsert_reviewer(
        "alice", UpsertReviewer.model_validate({"credential_ids": None, "max_open": 4, "active": True}), uow, DUE_IN
    )
    assert (updated.district, updated.school, updated.senior, updated.availability.value) == (
        "Metro", "Hillside", True, "paused"
    )
    assert updated.max_open == 4 and updated.credential_ids is None


async def test_a_credential_list_becomes_dated_certifications_and_a_dropped_one_is_revoked(uow: Any) -> None:
    first, second = uuid4(), uuid4()
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=[first, second]), uow, DUE_IN)
    updated = await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=[second]), uow, DUE_IN)
    assert updated.credential_ids == {second}
    assert {c.credential_id: c.status for c in updated.certifications} == {first: "revoked", second: "active"}


async def test_a_revoked_certification_stops_new_work_for_that_credential(uow: Any) -> None:
    credential_id = uuid4()
    await handlers.record_credential(published(credential_id, 1, rubric("planning")), uow, DUE_IN)
    await handlers.upsert_reviewer(
        "alice",
        UpsertReviewer.model_validate({"certifications": [{"credential_id": str(credential_id), "status": "revoked"}]}),
        uow, DUE_IN,
    )
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    assert assignments(uow) == []


async def test_a_reviewer_from_the_teachers_district_is_passed_over_until_someone_without_a_conflict_exists(
    uow: Any,
) -> None:
    credential_id = await two_reviewers(uow, district="Metro")
    # alice has the smaller id and the same load: only a conflict of interest can pass her over.
    await handlers.upsert_reviewer(
        "alice", UpsertReviewer.model_validate({"credential_ids": None, "district": "metro"}), uow, DUE_IN
    )
    await handlers.open_review(submitted(credential_id, 1).model_copy(update={"teacher_district": "Metro"}), uow,
                               DUE_IN)
    assert assignments(uow) == []  # both are in Metro: the review waits

    await handlers.upsert_reviewer("bob", UpsertReviewer.model_validate({"credential_ids": None, "district": None}),
                                   uow, DUE_IN)
    assert [a.reviewer_id for a in assignments(uow)] == ["bob"]


async def test_a_resubmission_goes_to_fresh_eyes_when_the_program_demands_it(uow: Any) -> None:
    credential_id = await two_reviewers(uow)
    first = submitted(credential_id, 1)
    await handlers.open_review(first, uow, DUE_IN)
    (assigned,) = assignments(uow)
    assert assigned.reviewer_id == "alice"
    await handlers.score_review(assigned.review_id, scores("planning"), ALICE, uow, DUE_IN)

    second = first.model_copy(update={"event_id": uuid4(), "attempt": 2})
    await handlers.open_review(second, uow, DUE_IN)
    assert assignments(uow)[-1].reviewer_id == "bob"


async def test_without_fresh_eyes_a_resubmission_may_return_to_the_same_reviewer(uow: Any) -> None:
    credential_id = await two_reviewers(uow)
    first = submitted(credential_id, 1)
    await handlers.open_review(first, uow, DUE_IN, fresh_eyes=False)
    await handlers.score_review(assignments(uow)[0].review_id, scores("planning"), ALICE, uow, DUE_IN)
    await handlers.open_review(first.model_copy(update={"event_id": uuid4(), "attempt": 2}), uow, DUE_IN,
                               fresh_eyes=False)
    assert assignments(uow)[-1].reviewer_id == "alice"


async def test_declining_reassigns_to_someone_else_and_says_who_declined_and_why(uow: Any) -> None:
    credential_id = await two_reviewers(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    (first,) = assignments(uow)
    review = await handlers.decline_review(
        first.review_id, handlers.DeclineReview(reason="I mentor this teacher"), ALICE, uow, DUE_IN
    )
    assert review.reviewer_id == "bob"
    again = assignments(uow)[-1]
    assert (again.review_id, again.reviewer_id, again.role) == (first.review_id, "bob", "primary")
    assert (again.reassigned_from, again.reassignment_reason) == ("alice", "I mentor this teacher")


async def test_a_declined_review_nobody_else_can_take_waits_in_the_queue_and_never_returns_to_the_decliner(
    uow: Any,
) -> None:
    credential_id = await credential_with_reviewer(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    (first,) = assignments(uow)
    review = await handlers.decline_review(first.review_id, handlers.DeclineReview(reason="conflict"), ALICE, uow,
                                           DUE_IN)
    assert review.status is ReviewStatus.QUEUED and len(assignments(uow)) == 1
    (queued, known) = (await handlers.queued_reviews(uow))[0]
    assert queued.review_id == first.review_id and known

    await handlers.upsert_reviewer("bob", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    later = assignments(uow)[-1]
    assert (later.reviewer_id, later.reassigned_from, later.reassignment_reason) == ("bob", "alice", "conflict")


async def test_only_the_assigned_reviewer_may_decline_and_to_anyone_else_the_review_does_not_exist(
    uow: Any,
) -> None:
    credential_id = await two_reviewers(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    (first,) = assignments(uow)
    with pytest.raises(NotFound) as refused:
        await handlers.decline_review(first.review_id, handlers.DeclineReview(reason="no"), BOB, uow, DUE_IN)
    with pytest.raises(NotFound) as unknown:
        await handlers.decline_review(uuid4(), handlers.DeclineReview(reason="no"), BOB, uow, DUE_IN)
    assert refused.value.code == unknown.value.code == "review_not_found"
    assert len(assignments(uow)) == 1 and releases(uow) == []


def releases(uow: Any) -> list[ReviewerReleased]:
    return [e for e in uow.published if isinstance(e, ReviewerReleased)]


async def test_declining_announces_the_release_even_when_nobody_else_can_take_the_review(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    (first,) = assignments(uow)
    await handlers.decline_review(first.review_id, handlers.DeclineReview(reason="I know this teacher"), ALICE, uow,
                                  DUE_IN)
    (released,) = releases(uow)
    assert len(assignments(uow)) == 1, "nobody else took it: the release alone ends alice's access"
    assert (released.review_id, released.submission_id, released.attempt) == (
        first.review_id, first.submission_id, first.attempt
    )
    assert (released.reviewer_id, released.role, released.reason) == ("alice", "primary", "declined")
    assert released.states == first.states


async def test_a_declined_review_is_no_longer_the_decliners_to_see_score_or_decline_again(uow: Any) -> None:
    credential_id = await two_reviewers(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    (first,) = assignments(uow)
    await handlers.decline_review(first.review_id, handlers.DeclineReview(reason="conflict"), ALICE, uow, DUE_IN)
    with pytest.raises(NotFound):
        await handlers.view_review(first.review_id, ALICE, uow)
    with pytest.raises(NotFound):
        await handlers.score_review(first.review_id, marks("proficient"), ALICE, uow, DUE_IN)
    with pytest.raises(NotFound):
        await handlers.decline_review(first.review_id, handlers.DeclineReview(reason="again"), ALICE, uow, DUE_IN)
    assert len(releases(uow)) == 1


def test_a_decline_without_a_reason_is_refused_at_the_door() -> None:
    with pytest.raises(ValidationError):
        handlers.DeclineReview.model_validate({})
    with pytest.raises(ValidationError):
        handlers.DeclineReview.model_validate({"reason": ""})


async def test_the_sweep_reassigns_overdue_work_and_counts_it_against_the_reviewer(uow: Any) -> None:
    credential_id = await two_reviewers(uow)
    on_time, late = submitted(credential_id, 1), submitted(credential_id, 1)
    await handlers.open_review(late, uow, DUE_IN)
    await handlers.open_review(on_time, uow, DUE_IN)
    overdue = review_of(uow, late)
    assert overdue.reviewer_id == "alice"
    uow.reviews.rows[overdue.review_id] = replace(overdue, due_at=datetime.now(UTC) - timedelta(minutes=1))

    assert await handlers.sweep_overdue(uow, DUE_IN, OPERATOR_CAUSE) == 1

    moved = assignments(uow)[-1]
    assert (moved.review_id, moved.reviewer_id) == (overdue.review_id, "bob")
    assert (moved.reassigned_from, moved.reassignment_reason) == ("alice", "overdue")
    assert moved.correlation_id == OPERATOR_CAUSE.correlation_id
    (released,) = releases(uow)
    assert (released.review_id, released.reviewer_id, released.role, released.reason) == (
        overdue.review_id, "alice", "primary", "overdue"
    )
    assert released.correlation_id == OPERATOR_CAUSE.correlation_id
    assert (await uow.reviewers.get("alice")).overdue_count == 1
    assert (await uow.reviewers.get("bob")).overdue_count == 0
    assert review_of(uow, on_time).reviewer_id == "bob"  # untouched: not overdue


async def test_a_sweep_with_nothing_overdue_changes_nothing(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    published_before = len(uow.published)
    assert await handlers.sweep_overdue(uow, DUE_IN, OPERATOR_CAUSE) == 0
    assert len(uow.published) == published_before


async def test_the_overdue_count_survives_a_registry_update(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    (review,) = uow.reviews.rows.values()
    uow.reviews.rows[review.review_id] = replace(review, due_at=datetime.now(UTC) - timedelta(seconds=1))
    await handlers.sweep_overdue(uow, DUE_IN, OPERATOR_CAUSE)
    updated = await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None, max_open=3), uow, DUE_IN)
    assert updated.overdue_count == 1
    assert review_of_id(uow, review.review_id).status is ReviewStatus.QUEUED  # alice is excluded from it now


def review_of_id(uow: Any, review_id: UUID) -> Review:
    return uow.reviews.rows[review_id]


async def test_business_day_deadlines_are_reported_on_assignment(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, BusinessDays(14))
    (assigned,) = assignments(uow)
    assert assigned.due_at.weekday() < 5
    # 14 working days span 18 to 20 calendar days, depending on the weekday it starts from.
    assert timedelta(days=17) < assigned.due_at - datetime.now(UTC) <= timedelta(days=20)


CAROL = Principal(subject="carol", roles=frozenset({Role.REVIEWER}))
CALIBRATE_ONE = DoubleScoringPolicy(calibration_size=1, share=0.0)


def scored_events(uow: Any) -> list[SubmissionScored]:
    return [e for e in uow.published if isinstance(e, SubmissionScored)]


def revisions(uow: Any) -> list[RevisionRequested]:
    return [e for e in uow.published if isinstance(e, RevisionRequested)]


def marks(level: str, feedback: str = "") -> ScoreReview:
    return ScoreReview(results=[CriterionScore(criterion_key="planning", level_key=level, feedback=feedback)])


async def double_scored_attempt(uow: Any, *, senior: str | None = "carol") -> ReviewerAssigned:
    """alice and bob hold the two seats of a calibration attempt; ``senior`` may adjudicate."""
    credential_id = await two_reviewers(uow)
    if senior is not None:
        await handlers.upsert_reviewer(senior, UpsertReviewer(credential_ids=None, senior=True), uow, DUE_IN)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, double_scoring=CALIBRATE_ONE)
    primary, second = assignments(uow)
    assert (primary.role, second.role) == ("primary", "second")
    assert primary.review_id == second.review_id and {primary.reviewer_id, second.reviewer_id} == {"alice", "bob"}
    return primary


async def test_calibration_gives_the_first_attempts_a_second_independent_reviewer_and_later_ones_one(
    uow: Any,
) -> None:
    credential_id = await two_reviewers(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, double_scoring=CALIBRATE_ONE)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, double_scoring=CALIBRATE_ONE)
    roles = [(a.role, a.reviewer_id) for a in assignments(uow)]
    assert roles == [("primary", "alice"), ("second", "bob"), ("primary", "alice")]


async def test_the_second_seat_waits_rather_than_going_to_the_primary_reviewer(uow: Any) -> None:
    credential_id = await credential_with_reviewer(uow)
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, double_scoring=CALIBRATE_ONE)
    assert [(a.role, a.reviewer_id) for a in assignments(uow)] == [("primary", "alice")]
    ((waiting, _),) = await handlers.queued_reviews(uow)
    assert waiting.role == "second"
    await handlers.upsert_reviewer("bob", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    assert (assignments(uow)[-1].role, assignments(uow)[-1].reviewer_id) == ("second", "bob")


async def test_agreeing_reviewers_produce_one_double_scored_decision_only_when_both_have_scored(uow: Any) -> None:
    first = await double_scored_attempt(uow)
    await handlers.score_review(first.review_id, marks("proficient", "Clear plan."), ALICE, uow, DUE_IN)
    assert scored_events(uow) == []
    mine = await handlers.score_review(first.review_id, marks("proficient", "Good objectives."), BOB, uow, DUE_IN)
    assert mine.role == "second" and mine.scorecard is not None
    (decision,) = scored_events(uow)
    assert (decision.review_id, decision.decision, decision.double_scored, decision.adjudicated) == (
        first.review_id, "passed", True, False
    )
    assert decision.results[0].feedback == "Clear plan.\n\nGood objectives."
    assert revisions(uow) == []


async def test_agreeing_on_revise_sends_one_revision_request_with_both_reviewers_feedback(uow: Any) -> None:
    first = await double_scored_attempt(uow)
    await handlers.score_review(first.review_id, marks("not-yet", "No objectives."), ALICE, uow, DUE_IN)
    await handlers.score_review(first.review_id, marks("not-yet", "Say what students learn."), BOB, uow, DUE_IN)
    (decision,) = scored_events(uow)
    (revision,) = revisions(uow)
    assert decision.decision == "revise"
    assert revision.feedback[0].feedback == "No objectives.\n\nSay what students learn."
    assert [decision for decision, _ in uow.decisions] == ["revise"]  # one decision per attempt, not per seat


async def test_a_disagreement_goes_to_a_senior_reviewer_off_the_panel_whose_decision_alone_stands(
    uow: Any,
) -> None:
    first = await double_scored_attempt(uow)
    # alice is senior too, but she is on the panel: the adjudicator must be someone else.
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None, senior=True), uow, DUE_IN)
    await handlers.score_review(first.review_id, marks("proficient"), ALICE, uow, DUE_IN)
    await handlers.score_review(first.review_id, marks("not-yet", "Missing."), BOB, uow, DUE_IN)
    assert scored_events(uow) == [] and revisions(uow) == []
    adjudication = assignments(uow)[-1]
    assert (adjudication.review_id, adjudication.role, adjudication.reviewer_id) == (
        first.review_id, "adjudicator", "carol"
    )

    await handlers.score_review(first.review_id, marks("not-yet", "Objectives missing."), CAROL, uow, DUE_IN)
    (decision,) = scored_events(uow)
    assert (decision.decision, decision.double_scored, decision.adjudicated) == ("revise", True, True)
    (revision,) = revisions(uow)
    assert revision.feedback[0].feedback == "Objectives missing."


async def test_an_adjudication_nobody_senior_can_take_waits_in_the_queue(uow: Any) -> None:
    first = await double_scored_attempt(uow, senior=None)
    await handlers.score_review(first.review_id, marks("proficient"), ALICE, uow, DUE_IN)
    await handlers.score_review(first.review_id, marks("not-yet", "Missing."), BOB, uow, DUE_IN)
    ((waiting, _),) = await handlers.queued_reviews(uow)
    assert (waiting.role, waiting.attempt_review_id) == ("adjudicator", first.review_id)
    await handlers.upsert_reviewer("dana", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    assert assignments(uow)[-1].role == "second"  # unchanged: dana is not senior
    await handlers.upsert_reviewer("dana", UpsertReviewer(credential_ids=None, senior=True), uow, DUE_IN)
    assert (assignments(uow)[-1].role, assignments(uow)[-1].reviewer_id) == ("adjudicator", "dana")


async def test_each_reviewer_of_a_double_scored_attempt_sees_only_their_own_scores(uow: Any) -> None:
    first = await double_scored_attempt(uow)
    await handlers.score_review(first.review_id, marks("proficient", "Mine."), ALICE, uow, DUE_IN)
    seen, _ = await handlers.view_review(first.review_id, BOB, uow)
    assert seen.role == "second" and seen.scorecard is None and seen.status is ReviewStatus.ASSIGNED
    with pytest.raises(NotFound):
        await handlers.view_review(first.review_id, CAROL, uow)
    with pytest.raises(Conflict):
        await handlers.score_review(first.review_id, marks("proficient"), ALICE, uow, DUE_IN)


async def test_the_second_reviewer_may_decline_and_their_seat_goes_to_someone_off_the_panel(uow: Any) -> None:
    first = await double_scored_attempt(uow)
    await handlers.decline_review(first.review_id, handlers.DeclineReview(reason="conflict"), BOB, uow, DUE_IN)
    again = assignments(uow)[-1]
    assert (again.role, again.reviewer_id, again.reassigned_from) == ("second", "carol", "bob")
    (released,) = releases(uow)
    assert (released.review_id, released.role, released.reviewer_id) == (first.review_id, "second", "bob")


async def test_withdrawing_a_double_scored_attempt_voids_every_open_seat(uow: Any) -> None:
    credential_id = await two_reviewers(uow)
    submission = submitted(credential_id, 1)
    await handlers.open_review(submission, uow, DUE_IN, double_scoring=CALIBRATE_ONE)
    await handlers.withdraw_review(withdrawn(submission), uow, DUE_IN)
    assert {r.status for r in uow.reviews.rows.values()} == {ReviewStatus.WITHDRAWN}
    assert (await uow.reviewers.get("bob")).open_reviews == 0


STRICT = handlers.ReliabilityMonitor(Thresholds(min_kappa=0.6, min_agreement=0.8, min_pairs=1))


async def test_a_completed_pair_is_recorded_and_its_reviewers_flagged_and_measured(uow: Any) -> None:
    registry = CollectorRegistry()
    monitor = handlers.ReliabilityMonitor(STRICT.thresholds, ReliabilityGauges(registry))
    first = await double_scored_attempt(uow)
    await handlers.score_review(first.review_id, marks("proficient"), ALICE, uow, DUE_IN, monitor=monitor)
    assert uow.pairs.rows == {} and registry.get_sample_value("microcred_review_flagged_reviewers") == 0.0
    await handlers.score_review(first.review_id, marks("not-yet", "Missing."), BOB, uow, DUE_IN, monitor=monitor)

    recorded = uow.pairs.rows[first.review_id]
    assert (recorded.primary_reviewer, recorded.second_reviewer) == ("alice", "bob")
    assert (recorded.primary_levels, recorded.second_levels) == ((1,), (0,))
    assert (await uow.reviewers.get("alice")).flagged and (await uow.reviewers.get("bob")).flagged
    assert registry.get_sample_value("microcred_review_reviewer_kappa", {"reviewer": "alice"}) == 0.0
    assert registry.get_sample_value("microcred_review_reviewer_agreement", {"reviewer": "bob"}) == 0.0
    assert registry.get_sample_value("microcred_review_flagged_reviewers") == 2.0

    await handlers.score_review(first.review_id, marks("proficient"), CAROL, uow, DUE_IN, monitor=monitor)
    settled = uow.pairs.rows[first.review_id]
    assert (settled.adjudicator, settled.adjudicated_levels, settled.adjudicated_decision) == ("carol", (1,), "passed")
    report = await handlers.reliability_report(uow, STRICT.thresholds)
    assert set(report.reviewers) == {"alice", "bob"} and report.reviewers["alice"].flagged
    assert report.reviewers["alice"].decision_agreement_with_adjudication == 1.0
    assert report.reviewers["bob"].decision_agreement_with_adjudication == 0.0
    (credential,) = report.credentials.values()
    assert (credential.attempts, credential.pairs, credential.adjudicated_attempts) == (1, 1, 1)


async def test_agreeing_reviewers_stay_unflagged(uow: Any) -> None:
    first = await double_scored_attempt(uow)
    await handlers.score_review(first.review_id, marks("proficient"), ALICE, uow, DUE_IN, monitor=STRICT)
    await handlers.score_review(first.review_id, marks("proficient"), BOB, uow, DUE_IN, monitor=STRICT)
    assert not (await uow.reviewers.get("alice")).flagged and not (await uow.reviewers.get("bob")).flagged


async def test_a_flagged_reviewer_loses_new_work_only_when_blocking_is_on(uow: Any) -> None:
    first = await double_scored_attempt(uow)
    await handlers.score_review(first.review_id, marks("proficient"), ALICE, uow, DUE_IN, monitor=STRICT)
    await handlers.score_review(first.review_id, marks("not-yet", "Missing."), BOB, uow, DUE_IN, monitor=STRICT)
    assert (await uow.reviewers.get("alice")).flagged
    credential_id = first_credential(uow)

    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, block_flagged=True)
    assert assignments(uow)[-1].reviewer_id == "carol"  # alice and bob are flagged; carol is busy but eligible
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN)
    assert assignments(uow)[-1].reviewer_id == "alice"  # blocking off: flagged reviewers still get work


def first_credential(uow: Any) -> UUID:
    ((credential_id, _),) = uow.credentials.rows
    return credential_id


SETTING_SAYS_FIFTY = DoubleScoringPolicy(calibration_size=50, share=0.0)


async def test_a_credential_calibrating_zero_attempts_is_single_scored_even_while_the_setting_says_fifty(
    uow: Any,
) -> None:
    credential_id = uuid4()
    event = published(credential_id, 1, rubric("planning")).model_copy(update={"calibration_size": 0})
    await handlers.record_credential(event, uow, DUE_IN)
    assert (await uow.credentials.get(credential_id, 1)).calibration_size == 0
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    await handlers.upsert_reviewer("bob", UpsertReviewer(credential_ids=None), uow, DUE_IN)
    for _ in range(3):
        await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, double_scoring=SETTING_SAYS_FIFTY)
    assert [a.role for a in assignments(uow)] == ["primary"] * 3


async def test_a_credential_calibrating_three_attempts_double_scores_exactly_its_first_three(uow: Any) -> None:
    credential_id = uuid4()
    event = published(credential_id, 1, rubric("planning")).model_copy(update={"calibration_size": 3})
    await handlers.record_credential(event, uow, DUE_IN)
    await handlers.upsert_reviewer("alice", UpsertReviewer(credential_ids=None, max_open=100), uow, DUE_IN)
    await handlers.upsert_reviewer("bob", UpsertReviewer(credential_ids=None, max_open=100), uow, DUE_IN)
    for _ in range(5):
        await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, double_scoring=SETTING_SAYS_FIFTY)
    seats = [r for r in uow.reviews.rows.values() if r.credential_id == credential_id]
    primaries = sorted((r for r in seats if r.parent_review_id is None), key=lambda r: r.created_at)
    doubled = {r.parent_review_id for r in seats if r.parent_review_id is not None}
    assert [p.review_id in doubled for p in primaries] == [True, True, True, False, False]


async def test_a_credential_without_its_own_calibration_size_uses_the_setting(uow: Any) -> None:
    credential_id = await two_reviewers(uow)
    assert (await uow.credentials.get(credential_id, 1)).calibration_size is None
    await handlers.open_review(submitted(credential_id, 1), uow, DUE_IN, double_scoring=SETTING_SAYS_FIFTY)
    assert [a.role for a in assignments(uow)] == ["primary", "second"]


async def test_the_teachers_note_with_a_resubmission_reaches_its_review_and_every_seat_and_view_shows_it(
    uow: Any,
) -> None:
    from microcred.review.entrypoints.api import assignment_view, blind_review_view

    credential_id = await two_reviewers(uow)
    first = submitted(credential_id, 1)
    await handlers.open_review(first, uow, DUE_IN)
    note = "I added the exit tickets from the second lesson and rewrote the reflection on the hinge question."
    second = first.model_copy(update={"event_id": uuid4(), "attempt": 2, "note_to_reviewer": note})
    await handlers.open_review(second, uow, DUE_IN)

    by_attempt = {r.attempt: r for r in uow.reviews.rows.values() if r.submission_id == first.submission_id}
    assert by_attempt[1].teacher_note is None and by_attempt[2].teacher_note == note
    assert by_attempt[2].seat("second", uuid4(), datetime.now(UTC)).teacher_note == note
    assert assignment_view(by_attempt[1])["teacher_note"] is None
    bob = Principal(subject=by_attempt[2].reviewer_id or "", roles=frozenset({Role.REVIEWER}))
    review, credential = await handlers.view_review(by_attempt[2].review_id, bob, uow)
    assert blind_review_view(review, credential)["teacher_note"] == note
