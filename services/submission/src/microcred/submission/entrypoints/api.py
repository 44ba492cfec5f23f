"""Submission HTTP API: translates requests into use cases and results into JSON. No rules here.

What a response shows depends on who asks: the owner sees everything, including the feedback of
every attempt; the reviewer assigned to the current attempt gets a blind view (no teacher identity);
an operator sees everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status

from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require
from microcred.submission.domain.model import Attempt, Evidence, EvidenceStatus, Submission
from microcred.submission.service_layer import handlers
from microcred.submission.service_layer.handlers import EvidencePolicy, EvidenceStorage, Viewer
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork


def evidence_view(evidence: Evidence) -> dict[str, Any]:
    return {
        "evidence_id": str(evidence.evidence_id),
        "requirement_key": evidence.requirement_key,
        "filename": evidence.filename,
        "content_type": evidence.content_type,
        "size_bytes": evidence.size_bytes,
        "sha256": evidence.sha256,
        "object_key": evidence.object_key,
        "status": evidence.status.value,
        "uploaded_at": evidence.uploaded_at.isoformat() if evidence.uploaded_at else None,
    }


def attempt_view(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "submitted_at": attempt.submitted_at.isoformat(),
        "feedback": [f.model_dump(mode="json") for f in attempt.feedback],
        "feedback_received_at": attempt.feedback_received_at.isoformat() if attempt.feedback_received_at else None,
    }


def submission_view(submission: Submission, viewer: Viewer = Viewer.OWNER) -> dict[str, Any]:
    view: dict[str, Any] = {
        "submission_id": str(submission.submission_id),
        "credential_id": str(submission.credential_id),
        "credential_version": submission.credential_version,
        "credential_name": submission.credential_name,
        "status": submission.status.value,
        "attempt": submission.attempt,
    }
    if viewer is Viewer.REVIEWER:
        # Blind review: nothing that names the teacher, and only what the current attempt submitted.
        view["evidence"] = [
            evidence_view(e) for e in submission.evidence if e.status is EvidenceStatus.UPLOADED
        ]
        return view
    view |= {
        "teacher_id": submission.teacher_id,
        "states": list(submission.states),
        "award_id": str(submission.award_id) if submission.award_id else None,
        "created_at": submission.created_at.isoformat(),
        "evidence": [evidence_view(e) for e in submission.evidence],
        "attempts": [attempt_view(a) for a in submission.attempts],
    }
    return view


def create_router(
    uow: Callable[[], SubmissionUnitOfWork], store: EvidenceStorage, policy: EvidencePolicy
) -> APIRouter:
    router = APIRouter(tags=["submissions"])

    @router.post("/submissions", status_code=status.HTTP_201_CREATED)
    async def start_submission(
        body: handlers.StartSubmission, principal: Annotated[Principal, require(Role.TEACHER)]
    ) -> dict[str, Any]:
        return submission_view(await handlers.start_submission(body, principal, uow()))

    @router.get("/submissions")
    async def list_submissions(
        principal: Annotated[Principal, require(Role.TEACHER, Role.OPERATOR)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        found = await handlers.list_submissions(principal, uow(), limit=limit, offset=offset)
        viewer = Viewer.OPERATOR if principal.has(Role.OPERATOR) else Viewer.OWNER
        return [submission_view(s, viewer) for s in found]

    @router.get("/submissions/{submission_id}")
    async def get_submission(submission_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        submission, viewer = await handlers.get_submission(submission_id, principal, uow())
        return submission_view(submission, viewer)

    @router.post("/submissions/{submission_id}/evidence", status_code=status.HTTP_201_CREATED)
    async def declare_evidence(
        submission_id: UUID, body: handlers.DeclareEvidence, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        ticket = await handlers.declare_evidence(submission_id, body, principal, uow(), store, policy)
        return {
            "evidence_id": str(ticket.evidence_id),
            "object_key": ticket.object_key,
            "upload_url": ticket.upload_url,
            "upload_method": ticket.upload_method,
            "expires_at": ticket.expires_at.isoformat(),
        }

    @router.post("/submissions/{submission_id}/evidence/{evidence_id}/complete")
    async def complete_evidence(submission_id: UUID, evidence_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return evidence_view(await handlers.complete_evidence(submission_id, evidence_id, principal, uow(), store))

    @router.delete("/submissions/{submission_id}/evidence/{evidence_id}")
    async def withdraw_evidence(submission_id: UUID, evidence_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return evidence_view(await handlers.withdraw_evidence(submission_id, evidence_id, principal, uow()))

    @router.get("/submissions/{submission_id}/evidence/{evidence_id}/download")
    async def download_evidence(submission_id: UUID, evidence_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        ticket = await handlers.evidence_download(submission_id, evidence_id, principal, uow(), store, policy)
        return {
            "evidence_id": str(ticket.evidence_id),
            "download_url": ticket.download_url,
            "expires_at": ticket.expires_at.isoformat(),
        }

    @router.post("/submissions/{submission_id}/submit")
    async def submit(submission_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return submission_view(await handlers.submit(submission_id, principal, uow(), store))

    return router
