"""The pages. Each calls the services with the signed-in person's token and renders what they answer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.domain.refusals import Problems, problems_of
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.web import SignedInSession, api_of, current_session, render, user_of

PAGE_SIZE = 20
STATUSES = ("published", "retired", "draft", "in_review", "changes_requested", "approved")
# The catalog's names for what the search form calls otherwise.
SEARCH_FIELDS = {"q": "q", "issuer_id": "issuer", "subject": "subject", "grade_band": "grade_band",
                 "status": "status", "offset": "page", "limit": "page"}



def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/")
    async def home(request: Request) -> Response:
        session = current_session(request)
        if session is not None and session.user is not None:
            return RedirectResponse("/catalog", status_code=303)
        return render(request, "home.html", {"title": "Sign in to Microcred",
                                             "expired": request.query_params.get("expired") == "1"})

    @router.get("/catalog")
    async def catalog(request: Request, session: SignedInSession) -> Response:
        user = user_of(session)
        raw = request.query_params
        form = {name: raw.get(name, "") for name in ("q", "issuer", "subject", "grade_band", "status")}
        form["status"] = form["status"] or "published"
        page = int(raw["page"]) if raw.get("page", "").isdigit() and 0 < int(raw["page"]) < 100_000 else 1
        params: dict[str, Any] = {"status": form["status"], "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
        params |= {api: form[name] for api, name in (("q", "q"), ("issuer_id", "issuer"), ("subject", "subject"),
                                                     ("grade_band", "grade_band")) if form[name]}
        problems, outage, issuers, found = Problems(), None, [], None
        api = api_of(request)
        try:
            issuers = await api.issuers(user.access_token)
            found = await api.search_credentials(user.access_token, params)
        except Refused as exc:
            problems = problems_of(exc.refusal, SEARCH_FIELDS, dict(form))
        except ServiceDown as exc:
            outage = outage_notice(exc)
        issuer_names = {i["issuer_id"]: i["name"] for i in issuers}
        total = found["total"] if found else 0
        return render(request, "catalog.html", {
            "title": "Catalog", "form": form, "issuers": issuers, "issuer_names": issuer_names,
            "statuses": STATUSES, "found": found, "problems": problems, "outage": outage, "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)), "searched": any(form[k] for k in ("q", "issuer", "subject",
                                                                                           "grade_band")),
        }, status_code=503 if outage else 422 if problems else 200)

    @router.get("/credentials/{credential_id}")
    async def credential(request: Request, credential_id: str, session: SignedInSession) -> Response:
        try:
            UUID(credential_id)
        except ValueError:
            return render(request, "error.html", {"title": "Not found",
                                                  "message": "There is no credential at this address."}, 404)
        user = user_of(session)
        api = api_of(request)
        found = await api.credential(user.access_token, credential_id)
        issuer = next((i for i in await api.issuers(user.access_token) if i["issuer_id"] == found["issuer_id"]), None)
        return render(request, "credential.html", {"title": found["name"], "credential": found, "issuer": issuer,
                                                   "passing": passing_rule_words(found["rubric"])})

    return router


def passing_rule_words(rubric: dict[str, Any]) -> str:
    rule = rubric["passing_rule"]
    if rule["kind"] == "minimum_total":
        best = sum(max(level["points"] for level in c["levels"]) for c in rubric["criteria"])
        return f"Passing needs at least {rule['points']} of the {best} points, over all criteria."
    level_names = {level["key"]: level["name"] for c in rubric["criteria"] for level in c["levels"]}
    gated = rule.get("criteria")
    names = {c["key"]: c["name"] for c in rubric["criteria"]}
    which = "every criterion" if not gated else "each of " + ", ".join(names.get(k, k) for k in gated)
    return f"Passing needs {which} at the level “{level_names.get(rule['level'], rule['level'])}” or above."
