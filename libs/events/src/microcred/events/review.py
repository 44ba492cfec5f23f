"""Review contracts. Review events are keyed by review id; each attempt gets its own review."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from microcred.events.base import Contract, IntegrationEvent


class ReviewerAssigned(IntegrationEvent):
    topic: ClassVar[str] = "review.assigned"
    key_field: ClassVar[str] = "review_id"

    event_type: Literal["review.assigned"] = "review.assigned"
    event_version: Literal[1] = 1

    review_id: UUID
    submission_id: UUID
    attempt: int = Field(ge=1)
    reviewer_id: str
    due_at: AwareDatetime
    role: Literal["primary", "second", "adjudicator"] = Field(
        default="primary", description="second: independent double scoring; adjudicator: settles a disagreement."
    )
    reassigned_from: str | None = Field(default=None, description="The reviewer this work was taken from.")
    reassignment_reason: str | None = None


class ReviewerReleased(IntegrationEvent):
    """A reviewer no longer holds a seat of an attempt's panel: they declined it, or it was taken back overdue.

    Their access to the attempt (its submission and evidence) ends here, whoever gets the seat next. A released
    reviewer is excluded from that seat for good, so a release is final for its (seat, reviewer) pair: a consumer
    that sees it before the ``review.assigned`` it undoes (the two travel on different topics) keeps it and lets
    that assignment grant nothing. Keyed by the attempt's review id, like ``review.assigned``.
    """

    topic: ClassVar[str] = "review.released"
    key_field: ClassVar[str] = "review_id"

    event_type: Literal["review.released"] = "review.released"
    event_version: Literal[1] = 1

    review_id: UUID
    submission_id: UUID
    attempt: int = Field(ge=1)
    reviewer_id: str
    role: Literal["primary", "second", "adjudicator"] = Field(description="The panel seat given back.")
    reason: Literal["declined", "overdue"] = Field(
        description="declined: the reviewer declined or recused; overdue: the deadline passed and it was taken back."
    )
    released_at: AwareDatetime


class CriterionResult(Contract):
    criterion_key: str
    criterion_name: str
    level_key: str
    level_name: str
    points: int
    feedback: str = ""


class SubmissionScored(IntegrationEvent):
    """A review reached its decision: ``passed`` or ``revise``, with a result per rubric criterion."""

    topic: ClassVar[str] = "review.scored"
    key_field: ClassVar[str] = "review_id"

    event_type: Literal["review.scored"] = "review.scored"
    event_version: Literal[1] = 1

    review_id: UUID
    submission_id: UUID
    attempt: int = Field(ge=1)
    credential_id: UUID
    credential_version: int = Field(ge=1)
    teacher_id: str
    decision: Literal["passed", "revise"]
    results: tuple[CriterionResult, ...] = Field(min_length=1)
    total_points: int
    scored_at: AwareDatetime
    double_scored: bool = False
    adjudicated: bool = Field(default=False, description="A senior reviewer settled a disagreement; this stands.")


class CriterionFeedback(Contract):
    criterion_key: str
    criterion_name: str
    level_key: str
    level_name: str
    feedback: str


class RevisionRequested(IntegrationEvent):
    """The evidence fell short; the teacher may revise and resubmit. Carries the reviewer's feedback."""

    topic: ClassVar[str] = "review.revise-requested"
    key_field: ClassVar[str] = "review_id"

    event_type: Literal["review.revise-requested"] = "review.revise-requested"
    event_version: Literal[1] = 1

    review_id: UUID
    submission_id: UUID
    attempt: int = Field(ge=1)
    teacher_id: str
    feedback: tuple[CriterionFeedback, ...] = Field(min_length=1)


__all__ = [
    "CriterionFeedback",
    "CriterionResult",
    "ReviewerAssigned",
    "ReviewerReleased",
    "RevisionRequested",
    "SubmissionScored",
]
