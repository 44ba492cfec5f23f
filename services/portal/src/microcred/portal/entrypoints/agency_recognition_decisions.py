"""District staff decide the recognitions that wait for them: salary steps, incentives and designations a program
grants only once the district approves. The list of what waits, and a page to approve or decline one (a decline
with the reason the teacher and the state will read).

As on the credit approval pages, licensure scopes what a person sees and may decide; the portal asks with the
person's own token and shows the answer. A recognition is named by its teacher, program and key, which go in
the query string (a teacher id is the identity provider's and may hold any character a path would not).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import Session
from microcred.portal.domain.refusals import Problems, problems_of
from microcred.portal.entrypoints.agency import area, state_of
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.web import Checked, SignedInSession, api_of, render, user_of

DECIDED = {"approved": "Approved: the teacher holds it now.",
           "declined": "Declined: the teacher reads your reason, and it is not asked again."}
DECISIONS = ("approve", "decline")


def address(item: dict[str, Any]) -> str:
    """The query that names one pending recognition (teacher, program, key)."""
    return urlencode({"teacher": item["teacher_id"], "program": item["program_id"], "key": item["key"]})


def amount_words(item: dict[str, Any]) -> str:
    if item.get("amount") is None:
        return "No amount"
    return f"{item['amount']} {item.get('unit') or ''}".strip()


def create_router() -> APIRouter:
    router = APIRouter(prefix="/agency/recognitions")

    @router.get("/pending")
    async def pending(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        found = await api_of(request).pending_recognitions(user.access_token, state)
        return render(request, "agency_recognitions_pending.html", {
            "title": "Recognitions waiting for approval", "pending": found, "address": address,
            "amount_words": amount_words, "notice": DECIDED.get(request.query_params.get("done", ""), ""),
            **area(request, user, state, "recognitions")})

    def named(request: Request) -> tuple[str, str, str]:
        query = request.query_params
        return query.get("teacher", ""), query.get("program", ""), query.get("key", "")

    async def decision_page(request: Request, session: Session, *, form: dict[str, str] | None = None,
                            problems: Problems | None = None, outage: str | None = None,
                            status_code: int = 200) -> Response:
        user = user_of(session)
        state = state_of(request, user)
        teacher, program, key = named(request)
        found = await api_of(request).pending_recognitions(user.access_token, state)
        item = next((p for p in found if (p["teacher_id"], p["program_id"], p["key"]) == (teacher, program, key)),
                    None)
        if item is None:
            return render(request, "error.html", {
                "title": "Not waiting for approval",
                "message": "This recognition is not waiting for a decision any more (someone may have decided it), "
                           "or you may not decide it."}, status_code=404)
        return render(request, "agency_recognition_decision.html", {
            "title": "Decide a recognition", "item": item, "address": address(item), "amount_words": amount_words,
            "form": form or {"decision": "", "reason": ""}, "problems": problems or Problems(), "outage": outage,
            **area(request, user, state, "recognitions")}, status_code=status_code)

    @router.get("/decide")
    async def decision(request: Request, session: SignedInSession) -> Response:
        return await decision_page(request, session)

    @router.post("/decide", dependencies=[Checked])
    async def decide(request: Request, session: SignedInSession) -> Response:
        raw = await request.form()
        form = {"decision": str(raw.get("decision", "")), "reason": str(raw.get("reason", ""))}
        problems = Problems()
        if form["decision"] not in DECISIONS:
            problems.add("decision", "Choose whether to approve or decline the recognition.")
        elif form["decision"] == "decline" and not form["reason"].strip():
            # The service refuses it too; said here beside the field, before anything is sent.
            problems.add("reason", "Give the reason for declining: the teacher and the state will read it.")
        if problems:
            return await decision_page(request, session, form=form, problems=problems, status_code=422)
        teacher, program, key = named(request)
        try:
            await api_of(request).decide_recognition(
                user_of(session).access_token, teacher_id=teacher, program_id=program, key=key,
                approve=form["decision"] == "approve", reason=form["reason"])
        except ServiceDown as exc:
            return await decision_page(request, session, form=form, outage=outage_notice(exc), status_code=503)
        except Refused as exc:
            problems = problems_of(exc.refusal, {"reason": "reason", "approve": "decision"}, dict(form))
            return await decision_page(request, session, form=form, problems=problems,
                                       status_code=exc.refusal.status if exc.refusal.status < 500 else 400)
        state = state_of(request, user_of(session))
        done = "approved" if form["decision"] == "approve" else "declined"
        return RedirectResponse(f"/agency/recognitions/pending?state={state}&done={done}", status_code=303)

    return router
