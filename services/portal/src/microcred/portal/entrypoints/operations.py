"""The operator's pages, part one: the landing page, the approval queue with the stress-test checklist, and the
catalog's export and import. Reviewers, the waiting queue and awards are in ``operations_people``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import Session
from microcred.portal.domain import operations
from microcred.portal.domain.refusals import Problems, problems_of
from microcred.portal.entrypoints.authoring import STATUS_WORDS
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.pages import passing_rule_words
from microcred.portal.entrypoints.web import Checked, SignedInSession, api_of, canonical_uuid, render, user_of

DONE = {"approved": "Approved. Publish it to put it in the catalog.", "published": "Published: it is in the catalog.",
        "changes": "Changes requested. The issuer sees your reason in the version's history."}
CHECK_LABELS = {f"check-{name}": words for name, (words, _) in operations.STRESS_TEST.items()}
#: A catalog document is JSON of a few megabytes at most; the catalog refuses over 32 MiB anyway.
IMPORT_LIMIT = 32 * 1024 * 1024


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/operations")
    async def landing(request: Request, session: SignedInSession) -> Response:
        return render(request, "operations.html", {"title": "Operations"})

    @router.get("/operations/approvals")
    async def approvals(request: Request, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        waiting, approved = await asyncio.gather(
            api.search_credentials(token, {"status": "in_review", "limit": 200}),
            api.search_credentials(token, {"status": "approved", "limit": 200}))
        return render(request, "operations_approvals.html", {
            "title": "Approval queue", "waiting": waiting, "approved": approved})

    async def approval_page(request: Request, session: Session, credential_id: str, version: int, *,
                            problems: Problems | None = None, outage: str | None = None, typed: dict[str, Any] | None = None,
                            status_code: int = 200) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        found = await api.credential_version(token, credential_id, version)
        history = await api.history(token, credential_id, version)
        problems = problems or Problems()
        return render(request, "operations_approval.html", {
            "title": f"Approve “{found['name']}”, version {found['version']}", "c": found, "history": history,
            "passing": passing_rule_words(found["rubric"]), "status_words": STATUS_WORDS,
            "stress_test": operations.STRESS_TEST, "problems": problems, "outage": outage, "typed": typed or {},
            "labels": CHECK_LABELS | {"reason": "Reason for changes", "note": "Note"},
            "notice": DONE.get(request.query_params.get("done", ""), ""),
        }, status_code=status_code)

    @router.get("/operations/approvals/{credential_id}/{version}")
    async def approval(request: Request, credential_id: str, version: int, session: SignedInSession) -> Response:
        if not canonical_uuid(credential_id):
            return render(request, "error.html", {"title": "Not found", "message": "No such version."}, 404)
        return await approval_page(request, session, credential_id, version)

    @router.post("/operations/approvals/{credential_id}/{version}/{step}", dependencies=[Checked])
    async def move(request: Request, credential_id: str, version: int, step: str, session: SignedInSession) -> Response:
        if not canonical_uuid(credential_id) or step not in ("approve", "request-changes", "publish"):
            return render(request, "error.html", {"title": "Not found", "message": "No such step."}, 404)
        form = await request.form()
        typed = {name: str(value) for name, value in form.items() if isinstance(value, str) and name != "csrf_token"}
        body: dict[str, Any] | None = None
        if step == "approve":
            body = {"checks": operations.approval_checks(typed)}
            if typed.get("note", "").strip():
                body["note"] = typed["note"].strip()
        elif step == "request-changes":
            body = {"reason": typed.get("reason", "")}
        try:
            await api_of(request).version_step(user_of(session).access_token, credential_id, version, step, body)
        except ServiceDown as exc:
            return await approval_page(request, session, credential_id, version, outage=outage_notice(exc),
                                       typed=typed, status_code=503)
        except Refused as exc:
            problems = problems_of(exc.refusal, {"reason": "reason", "note": "note",
                                                 **{f"checks.{n}": f"check-{n}" for n in operations.STRESS_TEST}},
                                   dict(typed))
            failing = operations.failing_checks(exc.refusal.details)
            if failing:  # checks_incomplete: each unconfirmed check is marked where it is ticked
                problems = Problems()
                for name in failing:
                    problems.add(f"check-{name}", "Confirm this check before approving, or request changes instead.")
            if exc.refusal.code == "reason_required":  # a reason of spaces only: the domain's own refusal
                problems = Problems()
                problems.add("reason", "Say what must change.")
            return await approval_page(request, session, credential_id, version, problems=problems, typed=typed,
                                       status_code=422 if exc.refusal.status == 422 else exc.refusal.status)
        done = {"approve": "approved", "publish": "published", "request-changes": "changes"}[step]
        return RedirectResponse(f"/operations/approvals/{credential_id}/{version}?done={done}", status_code=303)

    @router.get("/operations/catalog")
    async def catalog(request: Request, session: SignedInSession) -> Response:
        return render(request, "operations_catalog.html", {"title": "Catalog import and export",
                                                           "problems": Problems()})

    @router.get("/operations/catalog/export")
    async def export(request: Request, session: SignedInSession) -> Response:
        document = await api_of(request).export_catalog(user_of(session).access_token)
        name = f"microcred-catalog-{datetime.now(UTC):%Y-%m-%d}.json"
        return Response(json.dumps(document, indent=2, ensure_ascii=False), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    @router.post("/operations/catalog/import", dependencies=[Checked])
    async def import_(request: Request, session: SignedInSession) -> Response:
        form = await request.form()
        upload = form.get("document")
        problems, located, summary, outage = Problems(), [], None, None
        content = await upload.read(IMPORT_LIMIT + 1) if isinstance(upload, UploadFile) else b""
        document: Any = None
        if not content:
            problems.add("document", "Choose a catalog file (JSON, as the export downloads it).")
        elif len(content) > IMPORT_LIMIT:
            problems.add("document", "This file is larger than 32 MB, more than a catalog can be.")
        else:
            try:
                document = json.loads(content)
            except ValueError as exc:
                problems.add("document", f"This file is not JSON: {exc}.")
        if not problems:
            try:
                summary = await api_of(request).import_catalog(user_of(session).access_token, document)
            except ServiceDown as exc:
                outage = outage_notice(exc)
            except Refused as exc:
                located = [d for d in exc.refusal.details or [] if isinstance(d, dict) and "location" in d] \
                    if isinstance(exc.refusal.details, list) else []
                problems = problems_of(exc.refusal, {}) if not located else Problems()
                problems.add("document", "The catalog refused this file; nothing was imported. "
                             + (f"{len(located)} problem(s) are listed below." if located else ""))
        status = 503 if outage else 422 if problems else 200
        return render(request, "operations_catalog.html", {
            "title": "Catalog import and export", "problems": problems, "located": located, "summary": summary,
            "outage": outage, "filename": upload.filename if isinstance(upload, UploadFile) else "",
        }, status_code=status)

    return router
