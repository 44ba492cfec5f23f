"""Award HTTP API: translates requests into queries and results into JSON. No rules here.

``GET /awards/{award_id}`` is public on purpose: anyone shown a credential can verify it. Its view
therefore leaves out the raw teacher id; the document names the teacher only by a salted hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from microcred.award.domain.model import Award, AwardStatus
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.runtime.auth import Principal, Role, require
from microcred.runtime.errors import NotFound


def public_award_view(award: Award) -> dict[str, Any]:
    return {
        "award_id": str(award.award_id),
        "status": award.status.value,
        "credential_id": str(award.credential_id),
        "credential_version": award.credential_version,
        "credential_name": award.credential_name,
        "issuer_id": None if award.issuer_id is None else str(award.issuer_id),
        "issued_at": award.issued_at.isoformat(),
        "valid_until": None if award.valid_until is None else award.valid_until.isoformat(),
        "credential": award.credential,
    }


def award_view(award: Award) -> dict[str, Any]:
    return public_award_view(award) | {
        "submission_id": str(award.submission_id),
        "teacher_id": award.teacher_id,
        "states": list(award.states),
    }


def create_router(uow: Callable[[], AwardUnitOfWork]) -> APIRouter:
    router = APIRouter()

    @router.get("/awards/{award_id}", tags=["awards"])
    async def get_award(award_id: UUID) -> dict[str, Any]:
        async with uow() as work:
            award = await work.awards.get(award_id)
        # A pending award has no credential yet; to the public it does not exist.
        if award is None or award.status is not AwardStatus.ISSUED:
            raise NotFound(f"award {award_id} does not exist", code="award_not_found")
        return public_award_view(award)

    @router.get("/awards", tags=["awards"])
    async def list_awards(
        principal: Annotated[Principal, require(Role.TEACHER, Role.OPERATOR)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        teacher_id = None if principal.has(Role.OPERATOR) else principal.subject
        async with uow() as work:
            found = await work.awards.list(teacher_id=teacher_id, limit=limit, offset=offset)
        return [award_view(award) for award in found]

    return router
