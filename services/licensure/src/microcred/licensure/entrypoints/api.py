"""Licensure HTTP API: translates requests into use cases and results into JSON. No rules here.

Amounts are returned as decimal strings so no client reads them through a binary float. A ledger
entry's ``amount`` is the state's credit; ``issuer_credit_hints`` beside it is only what the issuer
suggests, and is null while licensure has not yet received the credential version.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status

from microcred.licensure.domain.model import CreditedCredential, DescribedEntry, IssuerCreditHint, License
from microcred.licensure.service_layer import handlers
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require


def amount_text(amount: Decimal) -> str:
    """Exact, without the column's trailing zeros: 7.5 rather than 7.5000."""
    return format(amount.normalize(), "f")


def license_view(license: License) -> dict[str, Any]:
    return {
        "license_id": str(license.license_id),
        "teacher_id": license.teacher_id,
        "state": license.state,
        "license_number": license.license_number,
        "license_type": license.license_type,
        "cycle_start": license.cycle_start.isoformat(),
        "cycle_end": license.cycle_end.isoformat(),
    }


def credential_view(credential: CreditedCredential | None) -> dict[str, Any] | None:
    if credential is None:
        return None
    return {
        "credential_id": str(credential.credential_id),
        "version": credential.version,
        "name": credential.name,
        "issuer_name": credential.issuer_name,
    }


def hints_view(hints: tuple[IssuerCreditHint, ...] | None) -> list[dict[str, Any]] | None:
    if hints is None:
        return None
    return [{"unit": hint.unit, "amount": amount_text(hint.amount), "note": hint.note} for hint in hints]


def entry_view(described: DescribedEntry) -> dict[str, Any]:
    entry = described.entry
    return {
        "entry_id": str(entry.entry_id),
        "award_id": str(entry.award_id),
        "kind": entry.kind.value,
        "amount": amount_text(entry.amount),
        "unit": entry.unit,
        "rule_set_id": entry.rule_set_id,
        "rule_set_version": entry.rule_set_version,
        "earned_on": entry.earned_on.isoformat(),
        "credential": credential_view(described.credential),
        "issuer_credit_hints": hints_view(described.issuer_credit_hints),
    }


def progress_view(progress: handlers.Progress) -> dict[str, Any]:
    rule_set = progress.rule_set
    return {
        "license": license_view(progress.license),
        "rule_set_id": None if rule_set is None else rule_set.rule_set_id,
        "rule_set_version": None if rule_set is None else rule_set.version,
        "unit": None if rule_set is None else rule_set.unit,
        "required": None if rule_set is None else amount_text(rule_set.required_per_cycle),
        "earned": amount_text(progress.earned),
        "entries": [entry_view(entry) for entry in progress.entries],
    }


def create_router(uow: Callable[[], LicensureUnitOfWork]) -> APIRouter:
    router = APIRouter()

    @router.post("/licenses", status_code=status.HTTP_201_CREATED, tags=["licenses"])
    async def register_license(
        body: handlers.RegisterLicense,
        principal: Annotated[Principal, require(Role.TEACHER, Role.STATE_ADMIN, Role.OPERATOR)],
    ) -> dict[str, Any]:
        return license_view(await handlers.register_license(body, principal, uow()))

    @router.get("/licenses", tags=["licenses"])
    async def list_licenses(
        principal: Annotated[Principal, require(Role.TEACHER, Role.STATE_ADMIN, Role.OPERATOR)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        async with uow() as work:
            found = await work.licenses.list(
                everyone=principal.has(Role.OPERATOR),
                teacher_id=principal.subject if principal.has(Role.TEACHER) else None,
                states=principal.states if principal.has(Role.STATE_ADMIN) else (),
                limit=limit,
                offset=offset,
            )
        return [license_view(license) for license in found]

    @router.get("/licenses/{license_id}/progress", tags=["licenses"])
    async def license_progress(license_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        return progress_view(await handlers.license_progress(license_id, principal, uow()))

    return router
