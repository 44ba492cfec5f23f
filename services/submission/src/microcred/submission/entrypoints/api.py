"""Submission HTTP API: translates requests into use cases and results into JSON. No rules here.

What a response shows depends on who asks: the owner sees everything, including the feedback of
every attempt; the reviewer assigned to the current attempt gets a blind view (no teacher identity);
an operator sees everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, status

from microcred.runtime.api import KIB, MIB, api_router, errors, links
from microcred.runtime.api_types import Count, PageOffset
from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require
from microcred.submission.domain.model import Attempt, Evidence, EvidenceStatus, Submission, UploadMode
from microcred.submission.service_layer import evidence_retention, handlers
from microcred.submission.service_layer.handlers import Viewer
from microcred.submission.service_layer.storage import EvidencePolicy, EvidenceStorage, MediaProbe, RetentionPolicy
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def evidence_view(evidence: Evidence) -> dict[str, Any]:
    return {
        "evidence_id": str(evidence.evidence_id),
        "requirement_key": evidence.requirement_key,
        "filename": evidence.filename,
        "content_type": evidence.recorded_content_type,
        "declared_content_type": evidence.content_type,
        "sniffed_content_type": evidence.sniffed_content_type,
        "size_bytes": evidence.size_bytes,
        "sha256": evidence.sha256,
        # Where its bytes are read: the sealed copy once verified, the upload key before.
        "object_key": evidence.stored_key,
        "status": evidence.status.value,
        "upload_mode": evidence.upload_mode.value,
        "part_count": evidence.part_count,
        "duration_seconds": evidence.duration_seconds,
        "media": evidence.media,
        "rejection": evidence.rejection,
        "submitted_in": evidence.submitted_in,
        "registered_at": _iso(evidence.registered_at),
        "uploaded_at": _iso(evidence.uploaded_at),
        "removed_at": _iso(evidence.removed_at),
        # The video these are the captions of (a WebVTT track); None for every other item.
        "captions_for": str(evidence.captions_for) if evidence.captions_for else None,
    }


def responses_view(submission: Submission) -> list[dict[str, Any]]:
    return [
        {"requirement_key": key, "prompt_index": index, "answer": answer}
        for (key, index), answer in sorted(submission.responses.items())
    ]


def ticket_view(ticket: handlers.UploadTicket) -> dict[str, Any]:
    upload: dict[str, Any]
    if ticket.mode is UploadMode.SINGLE:
        upload = {"mode": ticket.mode.value, "method": "PUT", "url": ticket.url}
    else:
        upload = {
            "mode": ticket.mode.value,
            "method": "PUT",
            "upload_id": ticket.upload_id,
            "part_size": ticket.part_size,
            "part_count": ticket.part_count,
            "parts": [{"part_number": n, "url": url} for n, url in sorted(ticket.parts.items())],
        }
    return {
        "evidence_id": str(ticket.evidence_id),
        "object_key": ticket.object_key,
        "expires_at": ticket.expires_at.isoformat(),
        "upload": upload,
    }


def attempt_view(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "submitted_at": attempt.submitted_at.isoformat(),
        "feedback": [f.model_dump(mode="json") for f in attempt.feedback],
        "feedback_received_at": attempt.feedback_received_at.isoformat() if attempt.feedback_received_at else None,
        "expected_decision_at": attempt.expected_decision_at.isoformat() if attempt.expected_decision_at else None,
        "note_to_reviewer": attempt.note_to_reviewer,
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
        view["responses"] = responses_view(submission)
        return view
    view |= {
        "teacher_id": submission.teacher_id,
        "states": list(submission.states),
        "award_id": str(submission.award_id) if submission.award_id else None,
        "created_at": submission.created_at.isoformat(),
        "finalized_at": _iso(submission.finalized_at),
        "withdrawal_reason": submission.withdrawal_reason,
        "evidence": [evidence_view(e) for e in submission.evidence],
        "responses": responses_view(submission),
        "attempts": [attempt_view(a) for a in submission.attempts],
    }
    return view


# What an OpenAPI link from a declared item passes on (see runtime.api.links).
EVIDENCE = {"submission_id": "$request.path.submission_id", "evidence_id": "$response.body#/evidence_id"}


def create_router(
    uow: Callable[[], SubmissionUnitOfWork],
    store: EvidenceStorage,
    policy: EvidencePolicy,
    probe: MediaProbe,
    retention: RetentionPolicy,
) -> APIRouter:
    router = api_router(tags=["submissions"])

    @router.post("/submissions", status_code=status.HTTP_201_CREATED, responses=links(
        201, **{op: {"submission_id": "$response.body#/submission_id"} for op in (
            "get_submission", "declare_evidence", "answer_prompts", "submit", "withdraw_submission")}))
    async def start_submission(
        body: handlers.StartSubmission, principal: Annotated[Principal, require(Role.TEACHER)]
    ) -> dict[str, Any]:
        return submission_view(await handlers.start_submission(body, principal, uow()))

    @router.get("/submissions")
    async def list_submissions(
        principal: Annotated[Principal, require(Role.TEACHER, Role.OPERATOR)],
        limit: Annotated[Count, Query(ge=1, le=200)] = 50,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> list[dict[str, Any]]:
        found = await handlers.list_submissions(principal, uow(), limit=limit, offset=offset)
        viewer = Viewer.OPERATOR if principal.has(Role.OPERATOR) else Viewer.OWNER
        return [submission_view(s, viewer) for s in found]

    @router.get("/submissions/{submission_id}")
    async def get_submission(submission_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        submission, viewer = await handlers.get_submission(submission_id, principal, uow())
        return submission_view(submission, viewer)

    @router.post("/submissions/{submission_id}/evidence", status_code=status.HTTP_201_CREATED, responses=links(
        201, **{op: EVIDENCE for op in (
            "complete_evidence", "uploaded_parts", "fresh_part_urls", "withdraw_evidence", "download_evidence")}))
    async def declare_evidence(
        submission_id: UUID, body: handlers.DeclareEvidence, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """Register an item; answers with one presigned PUT URL, or (above the single-upload size) the
        presigned part URLs of a multipart upload."""
        return ticket_view(await handlers.declare_evidence(submission_id, body, principal, uow(), store, policy))

    # Up to 10,000 part numbers.
    @router.post("/submissions/{submission_id}/evidence/{evidence_id}/parts", max_body_size=128 * KIB)
    async def fresh_part_urls(
        submission_id: UUID, evidence_id: UUID, body: handlers.RequestParts, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """Fresh URLs for parts of an unfinished multipart upload (resume after a drop or expiry)."""
        ticket = await handlers.fresh_part_urls(submission_id, evidence_id, body, principal, uow(), store, policy)
        return ticket_view(ticket)

    # 409: the item is no longer an open multipart upload, or the submission no longer takes evidence.
    @router.get("/submissions/{submission_id}/evidence/{evidence_id}/parts", responses=errors(409))
    async def uploaded_parts(submission_id: UUID, evidence_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        """The parts the object store holds (ListParts), and the part numbers still missing."""
        progress = await handlers.uploaded_parts(submission_id, evidence_id, principal, uow(), store)
        return {
            "uploaded": [{"part_number": p.part_number, "size": p.size, "etag": p.etag} for p in progress.uploaded],
            "missing": progress.missing,
        }

    @router.post("/submissions/{submission_id}/evidence/{evidence_id}/complete")
    async def complete_evidence(submission_id: UUID, evidence_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        """Assemble the parts (multipart) and verify what landed: size, sha256, sniffed type, video duration."""
        return evidence_view(
            await handlers.complete_evidence(submission_id, evidence_id, principal, uow, store, probe)
        )

    @router.delete("/submissions/{submission_id}/evidence/{evidence_id}")
    async def withdraw_evidence(submission_id: UUID, evidence_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return evidence_view(await handlers.withdraw_evidence(submission_id, evidence_id, principal, uow(), store))

    # 409: the file was deleted (rejected, withdrawn, or past retention).
    @router.get("/submissions/{submission_id}/evidence/{evidence_id}/download", responses=errors(409))
    async def download_evidence(submission_id: UUID, evidence_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        ticket = await handlers.evidence_download(submission_id, evidence_id, principal, uow(), store, policy)
        return {
            "evidence_id": str(ticket.evidence_id),
            "download_url": ticket.download_url,
            "expires_at": ticket.expires_at.isoformat(),
        }

    # Written reflections: up to about twenty answers of the longest length a prompt takes.
    @router.put("/submissions/{submission_id}/responses", max_body_size=1 * MIB)
    async def answer_prompts(
        submission_id: UUID, body: handlers.AnswerPrompts, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """Set written answers to the requirements' prompts; a blank answer clears one. Others stay."""
        return submission_view(await handlers.answer_prompts(submission_id, body, principal, uow()))

    @router.post("/submissions/{submission_id}/submit")
    async def submit(
        submission_id: UUID,
        principal: CurrentPrincipal,
        body: Annotated[handlers.SubmitAttempt | None, Body()] = None,
    ) -> dict[str, Any]:
        """Submit the draft, or resubmit after a revision request, optionally with a note to the reviewer."""
        return submission_view(await handlers.submit(submission_id, principal, uow(), store, body))

    @router.post("/submissions/{submission_id}/withdraw")
    async def withdraw_submission(
        submission_id: UUID,
        principal: CurrentPrincipal,
        body: Annotated[handlers.WithdrawSubmission | None, Body()] = None,
    ) -> dict[str, Any]:
        command = body or handlers.WithdrawSubmission()
        return submission_view(await handlers.withdraw_submission(submission_id, command, principal, uow()))

    @router.post("/maintenance/sweep", tags=["operations"])
    async def sweep(_: Annotated[Principal, require(Role.OPERATOR)]) -> dict[str, int]:
        """Run the retention purge and the orphan-upload cleanup now (they also run on a timer)."""
        return asdict(await evidence_retention.sweep(uow, store, retention))

    return router
