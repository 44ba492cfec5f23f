"""The operator's pages, part two: the reviewer registry, the work waiting for a reviewer, and awards' standing
(suspend, reinstate, revoke with a reason)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import Session
from microcred.portal.domain import operations
from microcred.portal.domain.refusals import Problems, problems_of
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.web import Checked, SignedInSession, api_of, canonical_uuid, render, user_of

PAGE_SIZE = 50
REVIEWER_FIELDS = {name: name for name in ("max_open", "availability", "district", "school", "active", "senior")} \
    | {"certifications": "add_certification", "credential_ids": "add_certification"}
REVIEWER_LABELS = {"max_open": "Capacity", "availability": "Availability", "district": "District", "school": "School",
                   "add_certification": "Certification"}


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def create_router() -> APIRouter:
    router = APIRouter()

    async def published_names(request: Request, token: str) -> dict[str, str]:
        found = await api_of(request).search_credentials(token, {"status": "published", "limit": 200})
        return {c["credential_id"]: c["name"] for c in found["items"]}

    @router.get("/operations/reviewers")
    async def reviewers(request: Request, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        found = await api_of(request).reviewers(token)
        found.sort(key=lambda r: r["reviewer_id"])
        return render(request, "operations_reviewers.html", {
            "title": "Reviewer registry", "reviewers": found, "names": await published_names(request, token),
            "availability": operations.AVAILABILITY, "notice": "Reviewer saved." if
            request.query_params.get("done") == "saved" else ""})

    async def reviewer_page(request: Request, session: Session, reviewer_id: str, *, typed: dict[str, Any] | None
                            = None, problems: Problems | None = None, outage: str | None = None,
                            status_code: int = 200) -> Response:
        token = user_of(session).access_token
        current = next((r for r in await api_of(request).reviewers(token) if r["reviewer_id"] == reviewer_id), None)
        return render(request, "operations_reviewer.html", {
            "title": f"Reviewer {reviewer_id}", "reviewer_id": reviewer_id, "current": current, "typed": typed,
            "names": await published_names(request, token), "availability": operations.AVAILABILITY,
            "problems": problems or Problems(), "labels": REVIEWER_LABELS, "outage": outage,
        }, status_code=status_code)

    @router.get("/operations/reviewers/new")
    async def add_reviewer(request: Request, session: SignedInSession) -> Response:
        wanted = request.query_params.get("id", "").strip()
        return RedirectResponse(f"/operations/reviewers/{quote(wanted, safe='')}" if wanted
                                else "/operations/reviewers", status_code=303)

    @router.get("/operations/reviewers/{reviewer_id}")
    async def reviewer(request: Request, reviewer_id: str, session: SignedInSession) -> Response:
        return await reviewer_page(request, session, reviewer_id)

    @router.post("/operations/reviewers/{reviewer_id}", dependencies=[Checked])
    async def save_reviewer(request: Request, reviewer_id: str, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        form = await request.form()
        typed = {name: str(value) for name, value in form.items() if isinstance(value, str)}
        current = next((r for r in await api.reviewers(token) if r["reviewer_id"] == reviewer_id), None)
        try:
            await api.save_reviewer(token, reviewer_id, operations.reviewer_body(typed, current))
        except ServiceDown as exc:
            return await reviewer_page(request, session, reviewer_id, typed=typed, outage=outage_notice(exc),
                                       status_code=503)
        except Refused as exc:
            return await reviewer_page(request, session, reviewer_id, typed=typed, status_code=422,
                                       problems=problems_of(exc.refusal, REVIEWER_FIELDS, dict(typed)))
        return RedirectResponse("/operations/reviewers?done=saved", status_code=303)

    @router.get("/operations/waiting")
    async def waiting(request: Request, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        page = _page(request)
        offset = (page - 1) * PAGE_SIZE
        # limit and offset: a review service that pages the queue honours them; one that does not ignores them
        # and answers the whole list, which queue_page slices.
        answer = await api_of(request).waiting_reviews(token, {"limit": PAGE_SIZE, "offset": offset})
        found = operations.queue_page(answer, offset, PAGE_SIZE)
        return render(request, "operations_waiting.html", {
            "title": "Work waiting for a reviewer", "queue": found, "page": page,
            "names": await published_names(request, token), "waiting_words": operations.WAITING_WORDS})

    @router.get("/operations/awards")
    async def awards(request: Request, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        wanted = request.query_params.get("award_id", "")
        problems = Problems()
        if wanted:
            award_id = canonical_uuid(wanted)
            if award_id is not None:
                return RedirectResponse(f"/operations/awards/{award_id}", status_code=303)
            problems.add("award_id", "An award's id looks like 0b6f6b1e-4c1a-4d7e-9a53-2f0c8e7d9a10.")
        # A teacher's awards, when the operator handles that teacher's request: the id a teacher's token carries.
        teacher = request.query_params.get("teacher", "").strip()[:200]
        page = _page(request)
        found = await api_of(request).awards(token, PAGE_SIZE, (page - 1) * PAGE_SIZE, teacher or None)
        return render(request, "operations_awards.html", {
            "title": "Awards", "awards": found, "page": page, "has_next": len(found) == PAGE_SIZE,
            "problems": problems, "labels": {"award_id": "Award id"}, "wanted": wanted, "teacher": teacher,
        }, status_code=422 if problems else 200)

    async def award_page(request: Request, session: Session, award_id: str, *, problems: Problems | None = None,
                         typed: dict[str, str] | None = None, outage: str | None = None,
                         status_code: int = 200) -> Response:
        found = await api_of(request).award(user_of(session).access_token, award_id)
        done = request.query_params.get("done", "")
        return render(request, "operations_award.html", {
            "title": f"Award: {found.get('credential_name') or found['credential_id']}", "award": found,
            "actions": operations.allowed_standing_actions(found["standing"]),
            "action_words": operations.STANDING_ACTIONS, "problems": problems or Problems(), "typed": typed or {},
            "labels": {"reason": "Reason"}, "outage": outage,
            "notice": f"Done: the award is now {found['standing']}." if done == "changed" else "",
        }, status_code=status_code)

    @router.get("/operations/awards/{award_id}")
    async def award(request: Request, award_id: str, session: SignedInSession) -> Response:
        if canonical_uuid(award_id) is None:
            return render(request, "error.html", {"title": "Not found", "message": "There is no award at this "
                                                                                  "address."}, 404)
        return await award_page(request, session, award_id)

    @router.post("/operations/awards/{award_id}/standing", dependencies=[Checked])
    async def change(request: Request, award_id: str, session: SignedInSession) -> Response:
        if canonical_uuid(award_id) is None:
            return render(request, "error.html", {"title": "Not found", "message": "There is no award."}, 404)
        form = await request.form()
        typed = {"reason": str(form.get("reason", ""))}
        action = str(form.get("action", ""))
        if action not in operations.STANDING_ACTIONS:
            problems = Problems()
            problems.add(None, "Choose suspend, reinstate or revoke.")
            return await award_page(request, session, award_id, problems=problems, typed=typed, status_code=422)
        try:
            await api_of(request).change_standing(user_of(session).access_token, award_id, action, typed["reason"])
        except ServiceDown as exc:
            return await award_page(request, session, award_id, typed=typed, outage=outage_notice(exc),
                                    status_code=503)
        except Refused as exc:
            return await award_page(request, session, award_id, typed=typed, status_code=422,
                                    problems=problems_of(exc.refusal, {"reason": "reason"}, dict(typed)))
        return RedirectResponse(f"/operations/awards/{award_id}?done=changed", status_code=303)

    return router
