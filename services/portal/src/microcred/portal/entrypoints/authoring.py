"""The issuer admin's pages: their credentials, the editor (six components and a rubric), drafts, submit, history.

The catalog decides who may author for which issuer and what a valid definition is; the editor keeps what was typed
and shows each refusal beside its field (``domain.authoring.field_of``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import Session
from microcred.portal.domain import authoring
from microcred.portal.domain.refusals import Problems, problems_of, sentence
from microcred.portal.entrypoints.failures import outage_notice
from microcred.portal.entrypoints.pages import passing_rule_words
from microcred.portal.entrypoints.web import (
    Checked,
    SignedInSession,
    api_of,
    canonical_uuid,
    not_found,
    render,
    user_of,
)

OPEN = ("draft", "changes_requested", "in_review", "approved")
STATUS_WORDS = {"draft": "Draft", "changes_requested": "Changes requested", "in_review": "Waiting for approval",
                "approved": "Approved, not yet published", "published": "Published", "retired": "Retired"}
DONE = {"saved": "Draft saved.", "submitted": "Submitted for approval. An operator will review it.",
        "opened": "A new draft version was opened, copied from the published one."}


NOT_FOUND = "There is no credential version at this address."


def labels_for(problems: Problems) -> dict[str, str]:
    return {name: authoring.label_of(name) for name in problems.fields}


def editor_problems(exc: Refused, editor: authoring.Editor) -> Problems:
    return problems_of(exc.refusal, authoring.field_map(exc.refusal.details), editor.flat())


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/authoring")
    async def overview(request: Request, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        issuers = await api.manageable_issuers(token)
        # Open versions: the catalog narrows them to the caller's issuers. Published ones: asked per issuer.
        searches = [api.search_credentials(token, {"status": s, "limit": 200}) for s in OPEN]
        searches += [api.search_credentials(token, {"status": "published", "issuer_id": i["issuer_id"], "limit": 200})
                     for i in issuers[:20]]
        found = await asyncio.gather(*searches)
        rows = [item for page in found for item in page["items"]]
        rows.sort(key=lambda c: (OPEN.index(c["status"]) if c["status"] in OPEN else len(OPEN), c["name"].lower()))
        return render(request, "authoring.html", {
            "title": "Authoring", "rows": rows, "issuers": issuers, "status_words": STATUS_WORDS,
            "issuer_names": {i["issuer_id"]: i["name"] for i in issuers},
        })

    async def editor_page(request: Request, session: Session, editor: authoring.Editor, *,
                          version: dict[str, Any] | None = None, problems: Problems | None = None,
                          outage: str | None = None, status_code: int = 200) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        issuers = [] if version else await api.manageable_issuers(token)
        history = await api.history(token, version["credential_id"], version["version"]) if version else []
        problems = problems or Problems()
        title = f"Edit “{version['name']}”" if version else "New credential"
        return render(request, "authoring_editor.html", {
            "title": title, "editor": editor, "version": version, "issuers": issuers, "history": history,
            "problems": problems, "labels": labels_for(problems), "outage": outage,
            "kinds": authoring.EVIDENCE_KINDS, "passing_kinds": authoring.PASSING_KINDS,
            "status_words": STATUS_WORDS, "notice": DONE.get(request.query_params.get("done", ""), ""),
            "action": f"/authoring/{version['credential_id']}/versions/{version['version']}" if version
            else "/authoring/new",
        }, status_code=status_code)

    @router.get("/authoring/new")
    async def new(request: Request, session: SignedInSession) -> Response:
        editor = authoring.Editor()
        issuers = await api_of(request).manageable_issuers(user_of(session).access_token)
        if len(issuers) == 1:
            editor.values["issuer_id"] = issuers[0]["issuer_id"]
        return await editor_page(request, session, editor)

    async def read_form(request: Request) -> tuple[authoring.Editor, str]:
        form = await request.form()
        items = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
        action = form.get("action")
        return authoring.editor_from_form(items), action if isinstance(action, str) else "save"

    @router.post("/authoring/new", dependencies=[Checked])
    async def create(request: Request, session: SignedInSession) -> Response:
        editor, action = await read_form(request)
        if action != "save":
            authoring.apply_action(editor, action)
            return await editor_page(request, session, editor)
        body = authoring.definition_body(editor) | {"issuer_id": editor.value("issuer_id")}
        try:
            drafted = await api_of(request).draft_credential(user_of(session).access_token, body)
        except ServiceDown as exc:
            return await editor_page(request, session, editor, outage=outage_notice(exc), status_code=503)
        except Refused as exc:
            return await editor_page(request, session, editor, problems=editor_problems(exc, editor),
                                     status_code=422 if exc.refusal.status == 422 else exc.refusal.status)
        return RedirectResponse(f"/authoring/{drafted['credential_id']}/versions/{drafted['version']}?done=saved",
                                status_code=303)

    @router.get("/authoring/{credential_id}/versions/{version}")
    async def show(request: Request, credential_id: str, version: int, session: SignedInSession) -> Response:
        if not canonical_uuid(credential_id):
            return not_found(request, NOT_FOUND)
        token = user_of(session).access_token
        found = await api_of(request).credential_version(token, credential_id, version)
        if found["status"] in ("draft", "changes_requested"):
            response = await editor_page(request, session, authoring.editor_from_version(found), version=found)
        else:
            history = await api_of(request).history(token, credential_id, version)
            response = render(request, "authoring_version.html", {
                "title": f"{found['name']}, version {found['version']}", "c": found, "history": history,
                "passing": passing_rule_words(found["rubric"]), "status_words": STATUS_WORDS,
                "problems": Problems(), "notice": DONE.get(request.query_params.get("done", ""), ""),
            })
        return response

    @router.post("/authoring/{credential_id}/versions/{version}", dependencies=[Checked])
    async def save(request: Request, credential_id: str, version: int, session: SignedInSession) -> Response:
        if not canonical_uuid(credential_id):
            return not_found(request, NOT_FOUND)
        token = user_of(session).access_token
        api = api_of(request)
        editor, action = await read_form(request)
        stored = await api.credential_version(token, credential_id, version)
        if action != "save":
            authoring.apply_action(editor, action)
            return await editor_page(request, session, editor, version=stored)
        try:
            await api.edit_version(token, credential_id, version, authoring.definition_body(editor))
        except ServiceDown as exc:
            return await editor_page(request, session, editor, version=stored, outage=outage_notice(exc),
                                     status_code=503)
        except Refused as exc:
            return await editor_page(request, session, editor, version=stored, problems=editor_problems(exc, editor),
                                     status_code=422 if exc.refusal.status == 422 else exc.refusal.status)
        return RedirectResponse(f"/authoring/{credential_id}/versions/{version}?done=saved#saved", status_code=303)

    @router.post("/authoring/{credential_id}/versions/{version}/submit", dependencies=[Checked])
    async def submit(request: Request, credential_id: str, version: int, session: SignedInSession) -> Response:
        if not canonical_uuid(credential_id):
            return not_found(request, NOT_FOUND)
        form = await request.form()
        note = str(form.get("note", "")).strip()
        token = user_of(session).access_token
        api = api_of(request)
        try:
            await api.version_step(token, credential_id, version, "submit-for-review", {"note": note} if note else None)
        except (Refused, ServiceDown) as exc:
            stored = await api.credential_version(token, credential_id, version)
            problems = Problems()
            if isinstance(exc, Refused):
                problems = problems_of(exc.refusal, {"note": "note"}, {"note": note})
            return await editor_page(request, session, authoring.editor_from_version(stored), version=stored,
                                     problems=problems, status_code=503 if isinstance(exc, ServiceDown) else 422,
                                     outage=outage_notice(exc) if isinstance(exc, ServiceDown) else None)
        return RedirectResponse(f"/authoring/{credential_id}/versions/{version}?done=submitted", status_code=303)

    @router.post("/authoring/{credential_id}/new-version", dependencies=[Checked])
    async def new_version(request: Request, credential_id: str, session: SignedInSession) -> Response:
        if not canonical_uuid(credential_id):
            return not_found(request, NOT_FOUND)
        try:
            opened = await api_of(request).open_version(user_of(session).access_token, credential_id)
        except Refused as exc:
            return render(request, "error.html", {"title": "No new version", "message": sentence(exc.refusal)},
                          status_code=exc.refusal.status if exc.refusal.status in (403, 404, 409) else 400)
        return RedirectResponse(f"/authoring/{credential_id}/versions/{opened['version']}?done=opened",
                                status_code=303)

    return router
