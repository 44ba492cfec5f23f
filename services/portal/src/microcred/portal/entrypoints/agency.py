"""State and district staff: pending district approvals, the credit report (table, chart, CSV) and who holds which
competency by district. Webhook endpoints are in :mod:`agency_webhooks`.

Every page asks licensure with the person's own token and shows what it answers: a district admin sees their
district's queue and reports because the service scopes them so, never because the portal filters.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import Session, SignedIn
from microcred.portal.domain import agency
from microcred.portal.domain.refusals import Problems, problems_of
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.web import (
    Checked,
    SignedInSession,
    api_of,
    canonical_uuid,
    not_found,
    render,
    user_of,
)

STATE = re.compile(r"^[A-Z]{2}$")
REPORT_FIELDS = {"start": "start", "end": "end", "district": "district"}
DECIDED = {"approved": "Approved: the credit is posted to the teacher's license (within the cycle's cap).",
           "rejected": "Rejected: the teacher sees your reason on their license progress."}


def state_of(request: Request, user: SignedIn) -> str:
    """The state a page is about: the one asked for, else the person's first; the service decides if they may."""
    asked = request.query_params.get("state", "")
    if STATE.match(asked):
        return asked
    return user.states[0] if user.states else "TN"


def manages_webhooks(user: SignedIn) -> bool:
    """Whether to offer the webhook pages at all (the service decides what they may do there): a district
    administrator manages their own district's endpoints."""
    return "state_admin" in user.roles or "operator" in user.roles or "district_admin" in user.roles


def reads_every_district(user: SignedIn) -> bool:
    return "state_admin" in user.roles or "operator" in user.roles


def area(request: Request, user: SignedIn, state: str, section: str) -> dict[str, Any]:
    """What every page of the area shows around its content: the state, the area's own navigation."""
    return {"state": state, "states": user.states, "section": section, "webhooks_offered": manages_webhooks(user),
            "every_district": reads_every_district(user)}


def today() -> date:
    return datetime.now(UTC).date()


def create_router() -> APIRouter:
    router = APIRouter(prefix="/agency")

    @router.get("")
    async def home(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        pending: list[dict[str, Any]] | None = None
        outage, problems = None, Problems()
        try:
            pending = await api_of(request).pending_credits(user.access_token, state)
        except ServiceDown as exc:
            outage = outage_notice(exc)
        except Refused as exc:
            problems = problems_of(exc.refusal, {})
        return render(request, "agency_home.html", {
            "title": "Approvals and reports", "pending": pending, "outage": outage, "problems": problems,
            **area(request, user, state, "home")})

    # -- pending district approvals ------------------------------------------------------------------------------

    @router.get("/approvals")
    async def approvals(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        pending = await api_of(request).pending_credits(user.access_token, state)
        return render(request, "agency_approvals.html", {
            "title": "Credits waiting for approval", "pending": pending,
            "notice": DECIDED.get(request.query_params.get("done", ""), ""), **area(request, user, state, "approvals")})

    async def decision_page(request: Request, session: Session, license_id: str, award_id: str, *,
                            form: dict[str, str] | None = None, problems: Problems | None = None,
                            outage: str | None = None, status_code: int = 200) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        pending = await api_of(request).pending_credits(user.access_token, state)
        item = next((p for p in pending if p["license_id"] == license_id and p["award_id"] == award_id), None)
        if item is None:
            return render(request, "error.html", {
                "title": "Not waiting for approval",
                "message": "This credit is not waiting for a decision any more (someone may have decided it), or "
                           "you may not decide it."}, status_code=404)
        return render(request, "agency_decision.html", {
            "title": "Decide a credit", "item": item, "form": form or {"decision": "", "reason": ""},
            "problems": problems or Problems(), "outage": outage, **area(request, user, state, "approvals")},
            status_code=status_code)

    @router.get("/approvals/{license_id}/{award_id}")
    async def decision(request: Request, license_id: str, award_id: str, session: SignedInSession) -> Response:
        if not (canonical_uuid(license_id) and canonical_uuid(award_id)):
            return not_found(request, "There is no credit at this address.")
        return await decision_page(request, session, license_id, award_id)

    @router.post("/approvals/{license_id}/{award_id}", dependencies=[Checked])
    async def decide(request: Request, license_id: str, award_id: str, session: SignedInSession) -> Response:
        if not (canonical_uuid(license_id) and canonical_uuid(award_id)):
            return not_found(request, "There is no credit at this address.")
        raw = await request.form()
        form = {"decision": str(raw.get("decision", "")), "reason": str(raw.get("reason", ""))}
        if form["decision"] not in ("approve", "reject"):
            problems = Problems()
            problems.add("decision", "Choose whether to approve or reject the credit.")
            return await decision_page(request, session, license_id, award_id, form=form, problems=problems,
                                       status_code=422)
        try:
            await api_of(request).decide_credit(user_of(session).access_token, license_id, award_id,
                                                approve=form["decision"] == "approve", reason=form["reason"])
        except ServiceDown as exc:
            return await decision_page(request, session, license_id, award_id, form=form,
                                       outage=outage_notice(exc), status_code=503)
        except Refused as exc:
            problems = problems_of(exc.refusal, {"reason": "reason", "approve": "decision"}, dict(form))
            if exc.refusal.code == "reason_required":  # the service's rule, said beside the field it concerns
                problems = Problems()
                problems.add("reason", "Give the reason for rejecting: the teacher will read it.")
            return await decision_page(request, session, license_id, award_id, form=form, problems=problems,
                                       status_code=exc.refusal.status if exc.refusal.status < 500 else 400)
        state = state_of(request, user_of(session))
        done = "approved" if form["decision"] == "approve" else "rejected"
        return RedirectResponse(f"/agency/approvals?state={state}&done={done}", status_code=303)

    # -- reports ---------------------------------------------------------------------------------------------------

    def report_params(request: Request, user: SignedIn) -> dict[str, str]:
        period = agency.default_period(today())
        raw = request.query_params
        params = {"start": raw.get("start") or period.start.isoformat(), "end": raw.get("end") or period.end.isoformat(),
                  "group": "district_credential"}
        if raw.get("district") and reads_every_district(user):
            params["district"] = raw["district"]
        return params

    @router.get("/reports/credits")
    async def credits(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        params = report_params(request, user)
        rows: list[agency.ReportRow] | None = None
        problems, outage = Problems(), None
        try:
            stream = await api_of(request).credit_report(user.access_token, state, params)
            rows = agency.parse_credit_report(b"".join([chunk async for chunk in stream]).decode())
        except ServiceDown as exc:
            outage = outage_notice(exc)
        except Refused as exc:
            problems = problems_of(exc.refusal, REPORT_FIELDS, dict(params))
            if exc.refusal.code == "invalid_period":
                problems = Problems()
                problems.add("end", "The end date must be on or after the start date.")
        chart = agency.credit_chart(rows) if rows else None
        download = {k: v for k, v in params.items() if k != "group"} | {"state": state}
        return render(request, "agency_credits.html", {
            "title": "Credits by district and credential", "form": params, "rows": rows, "chart": chart,
            "problems": problems, "outage": outage, "download": download, "chart_label": agency.chart_label,
            "amount_words": agency.amount_words, **area(request, user, state, "credits")})

    @router.get("/reports/credits.csv")
    async def credits_csv(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        params = report_params(request, user)
        if request.query_params.get("group") == "detail":
            params["group"] = "detail"
        stream = await api_of(request).credit_report(user.access_token, state, params)
        name = f"{state}-credits-{params['start']}-{params['end']}-{params['group']}.csv"
        return StreamingResponse(stream, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    @router.get("/reports/competencies")
    async def competencies(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        district = request.query_params.get("district", "") if reads_every_district(user) else ""
        matrix, outage, problems = None, None, Problems()
        try:
            answer = await api_of(request).competencies_report(user.access_token, state, district or None)
            matrix = agency.competency_matrix(answer)
        except ServiceDown as exc:
            outage = outage_notice(exc)
        except Refused as exc:
            problems = problems_of(exc.refusal, {"district": "district"}, {"district": district})
        return render(request, "agency_competencies.html", {
            "title": "Competencies held by district", "matrix": matrix, "district": district, "outage": outage,
            "problems": problems, **area(request, user, state, "competencies")})

    return router
