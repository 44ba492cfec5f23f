"""Review HTTP API: translates requests into use cases and results into JSON. No rules here.

Reviewers see reviews blind: nothing that identifies the teacher (teacher_id, states) leaves
through the review views. On a double-scored attempt each reviewer sees only their own seat's scores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response

from microcred.review.domain.listing import AssignedListing, QueueListing
from microcred.review.domain.model import CredentialRubric, DueRule, Review, Reviewer, SeatRole
from microcred.review.domain.reliability import ReliabilityStats
from microcred.review.service_layer import handlers
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.api import api_router
from microcred.runtime.api_types import Count, PageOffset, Text
from microcred.runtime.auth import Principal, Role, require

ReviewerId = Annotated[Text, Path(min_length=1, max_length=200)]
Limit = Annotated[Count | None, Query(ge=1, le=200, description="Page size; left out, the whole list.")]
AssignedOrder = Literal["due", "-due", "assigned", "-assigned"]
QueueOrder = Literal["queued", "-queued"]
TOTAL_HEADER = "X-Total-Count"
TOTAL_COUNTED: dict[int | str, dict[str, Any]] = {200: {"headers": {TOTAL_HEADER: {
    "description": "How many match the filter in all, across every page.", "schema": {"type": "integer"}}}}}


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
        "flagged": reviewer.flagged,
    }


def assignment_view(review: Review) -> dict[str, Any]:
    # The submission id is not identifying and the reviewer needs it to fetch evidence download URLs.
    return {
        "review_id": str(review.attempt_review_id),
        "submission_id": str(review.submission_id),
        "credential_id": str(review.credential_id),
        "credential_version": review.credential_version,
        "attempt": review.attempt,
        "role": review.role,
        "status": review.status.value,
        "assigned_at": review.assigned_at,
        "due_at": review.due_at,
        # The teacher's own words to the reviewer (null without one); the teacher is asked not to name themselves.
        "teacher_note": review.teacher_note,
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
        "review_id": str(review.attempt_review_id),
        "role": review.role,
        "submission_id": str(review.submission_id),
        "attempt": review.attempt,
        "credential_id": str(review.credential_id),
        "credential_version": review.credential_version,
        "queued_at": review.created_at,
        "waiting_for": "eligible_reviewer" if credential_known else "credential_published",
        "reassigned_from": review.reassigned_from,
        "reassignment_reason": review.reassignment_reason,
    }


def stats_view(stats: ReliabilityStats) -> dict[str, Any]:
    return {
        "attempts": stats.attempts,
        "pairs": stats.pairs,
        "exact_agreement": stats.exact_agreement,
        "adjacent_agreement": stats.adjacent_agreement,
        "kappa": stats.kappa,
        "adjudicated_attempts": stats.adjudicated_attempts,
        "level_agreement_with_adjudication": stats.level_agreement_with_adjudication,
        "decision_agreement_with_adjudication": stats.decision_agreement_with_adjudication,
        "flagged": stats.flagged,
    }


def create_router(
    uow: Callable[[], ReviewUnitOfWork],
    *,
    due_in: DueRule,
    block_flagged: bool = False,
    monitor: handlers.ReliabilityMonitor = handlers.DEFAULT_MONITOR,
) -> APIRouter:
    router = api_router()

    @router.put("/reviewers/{reviewer_id}", tags=["reviewers"])
    async def upsert_reviewer(
        reviewer_id: ReviewerId,
        body: handlers.UpsertReviewer,
        _: Annotated[Principal, require(Role.OPERATOR)],
    ) -> dict[str, Any]:
        return reviewer_view(
            await handlers.upsert_reviewer(reviewer_id, body, uow(), due_in, block_flagged=block_flagged)
        )

    @router.get("/reviewers", tags=["reviewers"])
    async def list_reviewers(_: Annotated[Principal, require(Role.OPERATOR)]) -> list[dict[str, Any]]:
        async with uow() as work:
            return [reviewer_view(r) for r in await work.reviewers.list()]

    @router.get("/reviews/queue", tags=["reviews"], responses=TOTAL_COUNTED)
    async def review_queue(
        response: Response,
        _: Annotated[Principal, require(Role.OPERATOR)],
        credential_id: Annotated[UUID | None, Query(description="Only this credential's reviews.")] = None,
        order: Annotated[QueueOrder, Query(description="queued: oldest first; -queued: newest first.")] = "queued",
        limit: Limit = None,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> list[dict[str, Any]]:
        """Reviews waiting for a reviewer. Without ``limit`` the whole queue (as before paging existed)."""
        listing = QueueListing(descending=order.startswith("-"), credential_id=credential_id, limit=limit,
                               offset=offset)
        waiting, total = await handlers.queued_page(uow(), listing)
        response.headers[TOTAL_HEADER] = str(total)
        return [queued_view(review, known) for review, known in waiting]

    @router.get("/reviews/assigned", tags=["reviews"], responses=TOTAL_COUNTED)
    async def my_assignments(
        response: Response,
        principal: Annotated[Principal, require(Role.REVIEWER)],
        credential_id: Annotated[UUID | None, Query(description="Only this credential's reviews.")] = None,
        role: Annotated[SeatRole | None, Query(description="Only seats of this role on the panel.")] = None,
        overdue: Annotated[bool | None, Query(description="true: past due only; false: not yet due only.")] = None,
        sort: Annotated[AssignedOrder, Query(
            description="due / -due: by due date; assigned / -assigned: by assignment time; '-' is descending.")] = "due",
        limit: Limit = None,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> list[dict[str, Any]]:
        """The caller's open reviews, soonest due first. Without ``limit`` every one of them (as before paging
        existed); the X-Total-Count header says how many match the filter in all."""
        listing = AssignedListing(sort="assigned" if sort.endswith("assigned") else "due",
                                  descending=sort.startswith("-"), credential_id=credential_id, role=role,
                                  overdue=overdue, limit=limit, offset=offset)
        page = await handlers.assigned_page(principal.subject, listing, uow())
        response.headers[TOTAL_HEADER] = str(page.total)
        return [assignment_view(r) for r in page.reviews]

    @router.get("/reviews/assigned/summary", tags=["reviews"])
    async def my_assignments_summary(principal: Annotated[Principal, require(Role.REVIEWER)]) -> dict[str, Any]:
        """How many open reviews the caller has, how many are overdue or due within two days, how many are
        adjudications, and how many per credential."""
        summary = await handlers.assigned_summary(principal.subject, uow())
        return {"open": summary.open, "overdue": summary.overdue, "due_soon": summary.due_soon,
                "adjudications": summary.adjudications,
                "credentials": [{"credential_id": str(c), "open": n} for c, n in summary.by_credential]}

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
        review = await handlers.score_review(
            review_id, body, principal, uow(), due_in, block_flagged=block_flagged, monitor=monitor
        )
        return outcome_view(review)

    @router.post("/reviews/{review_id}/decline", tags=["reviews"])
    async def decline_review(
        review_id: UUID,
        body: handlers.DeclineReview,
        principal: Annotated[Principal, require(Role.REVIEWER)],
    ) -> dict[str, Any]:
        """Decline or recuse with a reason; the review is reassigned to someone else or queued."""
        review = await handlers.decline_review(review_id, body, principal, uow(), due_in, block_flagged=block_flagged)
        # The decliner no longer holds the review: say only that it left them, not who has it now.
        return {"review_id": str(review.attempt_review_id), "declined": True,
                "status": "reassigned" if review.reviewer_id is not None else "queued"}

    @router.post("/maintenance/sweep", tags=["maintenance"])
    async def sweep(_: Annotated[Principal, require(Role.OPERATOR)]) -> dict[str, int]:
        """Take back overdue assignments now instead of waiting for the periodic sweep."""
        taken_back = await handlers.sweep_overdue(uow(), due_in, handlers.Cause.request(), block_flagged=block_flagged)
        return {"reassigned_overdue": taken_back}

    @router.get("/reliability/me", tags=["reliability"])
    async def my_reliability(principal: Annotated[Principal, require(Role.REVIEWER)]) -> dict[str, Any]:
        """The caller's own agreement and quadratic-weighted kappa over the double-scored work they took part
        in, with the thresholds they are held to. Other reviewers' figures stay with operators."""
        thresholds = monitor.thresholds
        stats = await handlers.own_reliability(principal.subject, uow(), thresholds)
        return {"reviewer_id": principal.subject} | stats_view(stats) | {
            "thresholds": {"min_kappa": thresholds.min_kappa, "min_agreement": thresholds.min_agreement,
                           "min_pairs_for_flag": thresholds.min_pairs}}

    @router.get("/reliability", tags=["reliability"])
    async def reliability(_: Annotated[Principal, require(Role.OPERATOR)]) -> dict[str, Any]:
        """Agreement, quadratic-weighted kappa and agreement with adjudication over double-scored work,
        per reviewer and per credential, flagged against the configured thresholds."""
        report = await handlers.reliability_report(uow(), monitor.thresholds)
        thresholds = monitor.thresholds
        return {
            "thresholds": {"min_kappa": thresholds.min_kappa, "min_agreement": thresholds.min_agreement,
                           "min_pairs_for_flag": thresholds.min_pairs},
            "block_flagged_reviewers": block_flagged,
            "reviewers": [{"reviewer_id": r} | stats_view(s) for r, s in report.reviewers.items()],
            "credentials": [{"credential_id": str(c)} | stats_view(s) for c, s in report.credentials.items()],
        }

    return router
