"""Licensure HTTP API: translates requests into use cases and results into JSON. No rules here.

Amounts are returned as decimal strings so no client reads them through a binary float. A ledger
entry's ``amount`` is the state's credit; ``issuer_credit_hints`` beside it is only what the issuer
suggests, and is null while licensure has not yet received the credential version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response, status

from microcred.licensure.domain.model import (
    AwardRecord,
    CreditClaim,
    CreditedCredential,
    DescribedEntry,
    IssuerCreditHint,
    License,
    RuleSet,
)
from microcred.licensure.domain.recognition import Program
from microcred.licensure.domain.reports import CompetencyMatrix
from microcred.licensure.entrypoints.csv_export import SafeCsv
from microcred.licensure.service_layer import handlers
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.api import KIB, api_router, links, media
from microcred.runtime.api_types import Count, PageOffset, RequestModel, StateCode, Text
from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require

State = Annotated[StateCode, Path()]


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
        "required_amount": None if license.required_amount is None else amount_text(license.required_amount),
        "district": license.district,
        "growth_plan": [str(c) for c in license.growth_plan],
    }


def rule_set_view(rule_set: RuleSet) -> dict[str, Any]:
    return {
        "rule_set_id": rule_set.rule_set_id,
        "state": rule_set.state,
        "version": rule_set.version,
        "effective_from": rule_set.effective_from.isoformat(),
        "unit": rule_set.unit,
        "amount_per_credential": amount_text(rule_set.amount_per_credential),
        "required_per_cycle": amount_text(rule_set.required_per_cycle),
        "cap_per_cycle": None if rule_set.cap_per_cycle is None else amount_text(rule_set.cap_per_cycle),
        "accepts": rule_set.accepts,
        "accepted_issuers": [str(i) for i in rule_set.accepted_issuers],
        "accepted_credentials": [str(c) for c in rule_set.accepted_credentials],
        "requires_growth_plan_match": rule_set.requires_growth_plan_match,
        "requires_district_approval": rule_set.requires_district_approval,
        "on_revocation": rule_set.on_revocation,
        "on_expiry": rule_set.on_expiry,
        "source_url": rule_set.source_url,
        "source_note": rule_set.source_note,
        "example": rule_set.example,
    }


def claim_view(claim: CreditClaim, award: AwardRecord | None) -> dict[str, Any]:
    return {
        "award_id": str(claim.award_id),
        "license_id": str(claim.license_id),
        "status": claim.status.value,
        "reason": claim.reason,
        "earned_on": claim.earned_on.isoformat(),
        "amount": None if claim.amount is None else amount_text(claim.amount),
        "unit": claim.unit,
        "rule_set_id": claim.rule_set_id,
        "rule_set_version": claim.rule_set_version,
        "decided_by": claim.decided_by,
        "decided_at": None if claim.decided_at is None else claim.decided_at.isoformat(),
        "credential_name": None if award is None else award.credential_name,
        "credential_id": None if award is None else str(award.credential_id),
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
        "award_id": None if entry.award_id is None else str(entry.award_id),
        "reason": entry.reason,
        "reverses_entry_id": None if entry.reverses_entry_id is None else str(entry.reverses_entry_id),
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
        "required": None if progress.required is None else amount_text(progress.required),
        "earned": amount_text(progress.earned),
        "remaining": None if progress.required is None else amount_text(max(progress.required - progress.earned,
                                                                            Decimal(0))),
        "cap_per_cycle": None if rule_set is None or rule_set.cap_per_cycle is None
        else amount_text(rule_set.cap_per_cycle),
        "entries": [entry_view(entry) for entry in progress.entries],
        "decisions": [claim_view(claim, award) for claim, award in progress.claims],
    }


class ApproveCredential(RequestModel):
    credential_id: UUID


class CsvResponse(Response):
    media_type = "text/csv"


REPORT_COLUMNS = ("posted_at", "kind", "license_number", "district", "credential_id", "credential_name",
                  "amount", "unit", "rule_set_id", "rule_set_version", "reason")


def report_csv(rows: list[dict[str, Any]], group: Literal["detail", "district_credential"]) -> str:
    writer = SafeCsv()
    if group == "detail":
        writer.row(REPORT_COLUMNS)
        for row in rows:
            entry = row["entry"]
            writer.row([
                entry.posted_at.isoformat() if entry.posted_at else "", entry.kind.value, row["license_number"],
                row["district"] or "", row["credential_id"] or "", row["credential_name"] or "",
                amount_text(entry.amount), entry.unit, entry.rule_set_id, entry.rule_set_version, entry.reason or "",
            ])
        return writer.text()
    totals: dict[tuple[str, str, str, str], list[Any]] = {}
    for row in rows:
        entry = row["entry"]
        key = (row["district"] or "", str(row["credential_id"] or ""), row["credential_name"] or "", entry.unit)
        total = totals.setdefault(key, [0, 0, Decimal(0)])
        total[0 if entry.amount >= 0 else 1] += 1
        total[2] += entry.amount
    writer.row(("district", "credential_id", "credential_name", "credits", "reversals", "net_amount", "unit"))
    for (district, credential_id, name, unit), (credits, reversals, net) in sorted(totals.items()):
        writer.row((district, credential_id, name, credits, reversals, amount_text(net), unit))
    return writer.text()


def matrix_view(state: str, matrix: CompetencyMatrix) -> dict[str, Any]:
    return {
        "state": state,
        "competencies": [{"competency": row.competency, "recorded": row.recorded, "credentials": list(row.credentials)}
                         for row in matrix.competencies],
        "districts": [{"district": row.district, "licensed_teachers": row.licensed_teachers,
                       "holders": [{"competency": name, "teachers": count} for name, count in row.holders.items()]}
                      for row in matrix.districts],
    }


def create_router(
    uow: Callable[[], LicensureUnitOfWork], *, ensure_topics: Callable[[list[str]], Awaitable[None]] | None = None,
    programs: Sequence[Program] = (),
) -> APIRouter:
    """``programs``: every recognition program version known; a license or a growth plan re-evaluates them."""
    router = api_router()

    @router.post("/licenses", status_code=status.HTTP_201_CREATED, tags=["licenses"], responses=links(
        201, **{op: {"license_id": "$response.body#/license_id"}
                for op in ("license_progress", "set_growth_plan", "adjust")}))
    async def register_license(
        body: handlers.RegisterLicense,
        principal: Annotated[Principal, require(Role.TEACHER, Role.STATE_ADMIN, Role.OPERATOR)],
    ) -> dict[str, Any]:
        return license_view(await handlers.register_license(body, principal, uow(), programs))

    @router.get("/licenses", tags=["licenses"])
    async def list_licenses(
        principal: Annotated[Principal, require(Role.TEACHER, Role.STATE_ADMIN, Role.OPERATOR)],
        limit: Annotated[Count, Query(ge=1, le=200)] = 50,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> list[dict[str, Any]]:
        async with uow() as work:
            await work.without_transaction()  # one statement
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

    @router.put("/licenses/{license_id}/growth-plan", tags=["licenses"])
    async def set_growth_plan(license_id: UUID, body: handlers.GrowthPlan, principal: CurrentPrincipal
                              ) -> dict[str, Any]:
        return license_view(await handlers.set_growth_plan(license_id, body, principal, uow(), programs))

    @router.post("/licenses/{license_id}/adjustments", status_code=status.HTTP_201_CREATED, tags=["licenses"])
    async def adjust(license_id: UUID, body: handlers.Adjustment, principal: CurrentPrincipal) -> dict[str, Any]:
        entry = await handlers.adjust(license_id, body, principal, uow())
        return entry_view(DescribedEntry(entry=entry, credential=None, issuer_credit_hints=None))

    @router.post("/licenses/{license_id}/credits/{award_id}/decision", tags=["approval"])
    async def decide(license_id: UUID, award_id: UUID, body: handlers.Decision, principal: CurrentPrincipal
                     ) -> dict[str, Any]:
        """A district's approval or rejection of a pending credit (the rule set says whether one is needed)."""
        return claim_view(await handlers.decide_credit(award_id, license_id, body, principal, uow()), None)

    @router.get("/states/{state}/pending-credits", tags=["approval"])
    async def pending(state: State, principal: CurrentPrincipal,
                      district: Annotated[Text | None, Query(max_length=200)] = None,
                      limit: Annotated[Count, Query(ge=1, le=500)] = 100,
                      offset: Annotated[PageOffset, Query()] = 0) -> list[dict[str, Any]]:
        found = await handlers.pending_credits(state, district, principal, uow(), limit=limit, offset=offset)
        return [claim_view(claim, award) | {"license": license_view(license)} for claim, license, award in found]

    @router.get("/rule-sets", tags=["rules"])
    async def rule_sets(state: Annotated[StateCode | None, Query()] = None) -> list[dict[str, Any]]:
        """Every version of every state's rules: public, so teachers and districts see what counts."""
        async with uow() as work:
            await work.without_transaction()  # one statement
            found = await (work.rule_sets.of_state(state) if state else work.rule_sets.all())
        return [rule_set_view(r) for r in sorted(found, key=lambda r: (r.state, r.rule_set_id, r.version))]

    # Up to 10,000 accepted credentials by id.
    @router.post("/rule-sets", status_code=status.HTTP_201_CREATED, tags=["rules"], max_body_size=512 * KIB)
    async def publish_rule_set(body: handlers.PublishRuleSet, principal: CurrentPrincipal) -> dict[str, Any]:
        async def ensure_feed(state: str) -> None:
            if ensure_topics is not None:
                await ensure_topics([state])

        return rule_set_view(await handlers.publish_rule_set(body, principal, uow(), ensure_feed))

    @router.post("/states/{state}/approved-credentials", tags=["rules"])
    async def approve_credential(state: State, body: ApproveCredential, principal: CurrentPrincipal
                                 ) -> dict[str, Any]:
        added = await handlers.approve_for_state(state, body.credential_id, principal, uow())
        return {"state": state, "credential_id": str(body.credential_id), "added": added}

    @router.get("/states/{state}/reports/credits", tags=["reports"], response_class=CsvResponse,
                responses=media("text/csv", "The report as CSV, with a header row."))
    async def credits_report(
        state: State, principal: CurrentPrincipal, start: date, end: date,
        group: Literal["detail", "district_credential"] = "district_credential",
        district: Annotated[Text | None, Query(max_length=200, description=(
            "One district's licensees only. A district admin always gets their own district's."))] = None,
    ) -> Response:
        """Ledger entries of the state's licensees posted in [start, end], as CSV (by district and credential,
        or one row per entry)."""
        rows = await handlers.state_report(state, start, end, principal, uow(), district)
        return Response(report_csv(rows, group), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{state}-credits-{start}-{end}-{group}.csv"'})

    @router.get("/states/{state}/reports/competencies", tags=["reports"])
    async def competencies_report(
        state: State, principal: CurrentPrincipal,
        district: Annotated[Text | None, Query(max_length=200, description=(
            "One district's licensees only. A district admin always gets their own district's."))] = None,
    ) -> dict[str, Any]:
        """Teachers holding each competency, by district, beside each district's licensed teachers: where the
        gaps are. Held means an award not revoked, expired or suspended, whether or not it earned credit."""
        matrix = await handlers.competency_report(state, district, principal, uow())
        return matrix_view(state, matrix)

    @router.post("/maintenance/expiry-sweep", tags=["maintenance"])
    async def expiry_sweep(principal: Annotated[Principal, require(Role.OPERATOR)]) -> dict[str, int]:
        """One bounded pass of the expiry sweep: expiries announced to the state feeds, credits reversed."""
        swept = await handlers.sweep_expired_credentials(uow())
        return {"reversed": swept.reversed, "announced": swept.announced}

    return router
