"""The district's decisions on recognitions waiting for them: HTTP in, use cases of
service_layer.recognition_decisions out. No rules here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from microcred.licensure.domain.recognition import Program, RecognitionEntry
from microcred.licensure.entrypoints.api import amount_text
from microcred.licensure.service_layer import recognition_decisions
from microcred.licensure.service_layer.recognition_decisions import PendingRecognition, RecognitionDecision
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.api import api_router, errors
from microcred.runtime.api_types import Count, PageOffset, StateCode, Text
from microcred.runtime.auth import CurrentPrincipal


def pending_view(pending: PendingRecognition) -> dict[str, Any]:
    program = pending.program
    return {
        "teacher_id": pending.teacher_id,
        "license_numbers": list(pending.license_numbers),
        "program_id": program.program_id,
        "program_version": program.version,
        "program_name": program.name,
        "state": program.state,
        "district": program.district,
        "outcome_kind": program.outcome.kind,
        "outcome_label": program.outcome.label,
        "key": pending.key,
        "amount": None if pending.amount is None else amount_text(pending.amount),
        "unit": program.outcome.unit,
        "year": pending.year,
        "awards": [{"award_id": a.award_id, "credential_name": a.credential_name} for a in pending.awards],
        "pending_since": pending.since.isoformat(),
    }


def decision_view(teacher_id: str, entry: RecognitionEntry) -> dict[str, Any]:
    return {
        "teacher_id": teacher_id,
        "program_id": entry.program_id,
        "program_version": entry.program_version,
        "key": entry.key,
        "decision": entry.kind,
        "reason": entry.reason,
        "amount": None if entry.amount is None else amount_text(entry.amount),
        "year": entry.year,
    }


def create_recognition_decisions_router(uow: Callable[[], LicensureUnitOfWork], programs: Sequence[Program]
                                        ) -> APIRouter:
    router = api_router(tags=["recognitions"])

    @router.get("/states/{state}/pending-recognitions")
    async def pending_recognitions(
        state: Annotated[StateCode, Path()], principal: CurrentPrincipal,
        district: Annotated[Text | None, Query(max_length=200)] = None,
        limit: Annotated[Count, Query(ge=1, le=200)] = 50,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> list[dict[str, Any]]:
        """Recognitions (salary steps, incentives, designations...) waiting for a district's approval, oldest
        first. A district admin sees their own district's, a state admin any district's, an operator all."""
        found = await recognition_decisions.pending_recognitions(state, district, principal, uow(), programs,
                                                                 limit=limit, offset=offset)
        return [pending_view(p) for p in found]

    # 404: a recognition the caller may not know of is answered as one that does not exist.
    @router.post("/recognitions/decisions", responses=errors(404))
    async def decide_recognition(body: RecognitionDecision, principal: CurrentPrincipal) -> dict[str, Any]:
        """Approve (granted for good) or decline (taken back; a reason is required) a pending recognition.
        Published as licensure.recognition-granted or licensure.recognition-reversed, pending false."""
        entry = await recognition_decisions.decide_recognition(body, principal, uow(), programs)
        return decision_view(body.teacher_id, entry)

    return router
