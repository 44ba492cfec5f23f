"""Review HTTP API: translates requests into use cases and results into JSON. No rules here.

Reviewers see reviews blind: nothing that identifies the teacher (teacher_id, states) leaves
through the review views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path

from microcred.review.domain.model import CredentialRubric, DueRule, Review, Reviewer
from microcred.review.service_layer import handlers
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.auth import Principal, Role, require

ReviewerId = Annotated[str, Path(min_length=1, max_length=200)]


def reviewer_view(reviewer: Reviewer) -> dict[str, Any]:
    return {
        "reviewer_id": reviewer.reviewer_id,
        "credential_ids": None if reviewer.credential_ids is None else sorted(str(c) for c in reviewer.credential_ids),
        "max_open": reviewer.max_open,
        "active": reviewer.active,
        "open_reviews": reviewer.open_reviews,
        "district": reviewer.district,
        "school": reviewer.school,
        "senior": reviewer.senior,
        "availability": reviewer.availability.value,
        "certifications": [
            {"credential_id": str(c.credential_id), "certified_at": c.certified_at, "status": c.status}
            for c in reviewer.certifications
        ],
        "overdue_count": reviewer.overdue_count,
    }


def assignment_view(review: Review) -> dict[str, Any]:
    # The submission id is not identifying and the reviewer needs it to fetch evidence download URLs.
    return {
        "review_id": str(review.review_id),
        "submission_id": str(review.submission_id),
        "credential_id": str(review.credential_id),
        "credential_version": review.credential_version,
        "attempt": review.attempt,
        "status": review.status.value,
        "assigned_at": review.assigned_at,
        "due_at": review.due_at,
    }


def outcome_view(review: Review) -> dict[str, Any]:
    view = assignment_view(review)
    if review.scorecard is not None:
        view |= {
            "decision": review.scorecard.decision,
            "total_points": review.scorecard.total_points,
            "results": [r.model_dump(mode="json") for r in review.scorecard.results],
            "scored_at": review.scored_at,
        }
    if review.withdrawn_at is not None:
        # The teacher's reason stays out: it is free text that may name them, and reviews are blind.
        view |= {"withdrawn_at": review.withdrawn_at}
    return view


def blind_review_view(review: Review, credential: CredentialRubric | None) -> dict[str, Any]:
    return outcome_view(review) | {
        "credential_name": None if credential is None else credential.name,
        "rubric": None if credential is None else credential.rubric.model_dump(mode="json"),
        "evidence": [e.model_dump(mode="json") for e in review.evidence],
    }


def queued_view(review: Review, credential_known: bool) -> dict[str, Any]:
    return {
        "review_id": str(review.review_id),
        "submission_id": str(review.submission_id),
        "attempt": review.attempt,
        "credential_id": str(review.credential_id),
        "credential_version": review.credential_version,
        "queued_at": review.created_at,
        "waiting_for": "eligible_reviewer" if credential_known else "credential_published",
        "reassigned_from": review.reassigned_from,
        "reassignment_reason": review.reassignment_reason,
    }


def create_router(uow: Callable[[], ReviewUnitOfWork], *, due_in: DueRule) -> APIRouter:
    router = APIRouter()

    @router.put("/reviewers/{reviewer_id}", tags=["reviewers"])
    async def upsert_reviewer(
        reviewer_id: ReviewerId,
        body: handlers.UpsertReviewer,
        _: Annotated[Principal, require(Role.OPERATOR)],
    ) -> dict[str, Any]:
        return reviewer_view(await handlers.upsert_reviewer(reviewer_id, body, uow(), due_in))

    @router.get("/reviewers", tags=["reviewers"])
    async def list_reviewers(_: Annotated[Principal, require(Role.OPERATOR)]) -> list[dict[str, Any]]:
        async with uow() as work:
            return [reviewer_view(r) for r in await work.reviewers.list()]

    @router.get("/reviews/queue", tags=["reviews"])
    async def review_queue(_: Annotated[Principal, require(Role.OPERATOR)]) -> list[dict[str, Any]]:
        return [queued_view(review, known) for review, known in await handlers.queued_reviews(uow())]

    @router.get("/reviews/assigned", tags=["reviews"])
    async def my_assignments(principal: Annotated[Principal, require(Role.REVIEWER)]) -> list[dict[str, Any]]:
        async with uow() as work:
            return [assignment_view(r) for r in await work.reviews.assigned_to(principal.subject)]

    @router.get("/reviews/{review_id}", tags=["reviews"])
    async def get_review(
        review_id: UUID, principal: Annotated[Principal, require(Role.REVIEWER, Role.OPERATOR)]
    ) -> dict[str, Any]:
        review, credential = await handlers.view_review(review_id, principal, uow())
        return blind_review_view(review, credential)

    @router.post("/reviews/{review_id}/score", tags=["reviews"])
    async def score_review(
        review_id: UUID,
        body: handlers.ScoreReview,
        principal: Annotated[Principal, require(Role.REVIEWER)],
    ) -> dict[str, Any]:
        review = await handlers.score_review(review_id, body, principal, uow(), due_in)
        return outcome_view(review)

    @router.post("/reviews/{review_id}/decline", tags=["reviews"])
    async def decline_review(
        review_id: UUID,
        body: handlers.DeclineReview,
        principal: Annotated[Principal, require(Role.REVIEWER)],
    ) -> dict[str, Any]:
        """Decline or recuse with a reason; the review is reassigned to someone else or queued."""
        review = await handlers.decline_review(review_id, body, principal, uow(), due_in)
        # The decliner no longer holds the review: say only that it left them, not who has it now.
        return {"review_id": str(review.review_id), "declined": True,
                "status": "reassigned" if review.reviewer_id is not None else "queued"}

    @router.post("/maintenance/sweep", tags=["maintenance"])
    async def sweep(_: Annotated[Principal, require(Role.OPERATOR)]) -> dict[str, int]:
        """Take back overdue assignments now instead of waiting for the periodic sweep."""
        return {"reassigned_overdue": await handlers.sweep_overdue(uow(), due_in, handlers.Cause.request())}

    return router
