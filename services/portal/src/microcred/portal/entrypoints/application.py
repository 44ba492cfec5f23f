"""The teacher's application: start a submission, its page, answers saved as typed, submit (uploads: uploads.py).

The script's endpoints answer JSON (``saved``/``reason``); the answers' form also works as a plain POST without
JavaScript.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.adapters.sessions import Session
from microcred.portal.domain import application, timeline
from microcred.portal.domain.refusals import Problems, problems_of, sentence
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

NOTE_FIELD = "note_to_reviewer"  # the resubmit form's note, named as the submission service names it
NOT_FOUND = "There is no application at this address."


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def json_refusal(exc: Refused | ServiceDown) -> JSONResponse:
    """A script's refusal: the reason in plain words, and the field it concerns when the service says."""
    if isinstance(exc, ServiceDown):
        return JSONResponse({"saved": False, "reason": outage_notice(exc)}, status_code=503)
    problems = problems_of(exc.refusal, {"filename": "filename", "content_type": "content_type",
                                         "size_bytes": "size_bytes", "sha256": "sha256"})
    reasons = [m for messages in problems.fields.values() for m in messages] + problems.general
    status = exc.refusal.status if 400 <= exc.refusal.status < 500 else 400
    return JSONResponse({"saved": False, "code": exc.refusal.code, "reason": " ".join(reasons)}, status_code=status)


def create_router() -> APIRouter:
    router = APIRouter()

    @router.post("/credentials/{credential_id}/start", dependencies=[Checked])
    async def start(request: Request, credential_id: str, session: SignedInSession) -> Response:
        if canonical_uuid(credential_id) is None:
            return not_found(request, NOT_FOUND)
        started = await api_of(request).start_submission(user_of(session).access_token, credential_id)
        return RedirectResponse(f"/applications/{started['submission_id']}", status_code=303)

    @router.get("/applications")
    async def applications(request: Request, session: SignedInSession) -> Response:
        found = await api_of(request).submissions(user_of(session).access_token)
        return render(request, "applications.html", {"title": "My applications", "applications": found,
                                                     "status_words": application.STATUS_WORDS})

    async def application_page(request: Request, session: Session, submission_id: str, *,
                               problems: Problems | None = None, refused_missing: list[tuple[str, str]] | None = None,
                               typed: dict[str, str] | None = None, notice: str = "", outage: str | None = None,
                               note: str = "", status_code: int = 200) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        submission = await api.submission(token, submission_id)
        credential = await api.credential_version(token, submission["credential_id"],
                                                  submission["credential_version"])
        built = application.sections(credential, submission)
        for section in built:  # what the person typed and a refusal kept from being saved stays on the page
            for prompt in section.prompts:
                if typed and prompt.field in typed:
                    prompt.answer = typed[prompt.field]
        return render(request, "application.html", {
            "title": submission["credential_name"], "submission": submission, "credential": credential,
            "sections": built, "editable": submission["status"] in application.EDITABLE,
            "checklist": refused_missing if refused_missing is not None else application.checklist(built),
            "refused": refused_missing is not None, "timeline": timeline.timeline(submission), "note": note,
            "problems": problems or Problems(), "notice": notice, "outage": outage,
            "status_words": application.STATUS_WORDS, "when": application.when, "size_words": application.size_words,
        }, status_code=status_code)

    @router.get("/applications/{submission_id}")
    async def show(request: Request, submission_id: str, session: SignedInSession) -> Response:
        if canonical_uuid(submission_id) is None:
            return not_found(request, NOT_FOUND)
        notice = {"saved": "Your answers are saved.", "submitted": "Submitted for review."}.get(
            request.query_params.get("done", ""), "")
        return await application_page(request, session, submission_id, notice=notice)

    @router.post("/applications/{submission_id}/answers", dependencies=[Checked])
    async def save_answers(request: Request, submission_id: str, session: SignedInSession) -> Response:
        if canonical_uuid(submission_id) is None:
            return not_found(request, NOT_FOUND)
        form = await request.form()
        typed = {name: str(value) for name, value in form.items() if name.startswith("answer-")}
        names: list[str] = []
        token = user_of(session).access_token
        api = api_of(request)
        try:
            # The keys come from the credential version, so a field name that is no prompt of it is ignored.
            submission = await api.submission(token, submission_id)
            credential = await api.credential_version(token, submission["credential_id"],
                                                      submission["credential_version"])
            keys = [item["key"] for item in credential["submission_criteria"]["items"]]
            responses: list[dict[str, Any]] = []
            for name, answer in typed.items():
                parsed = application.parse_answer_field(name, keys)
                if parsed is not None:
                    names.append(name)
                    responses.append({"requirement_key": parsed[0], "prompt_index": parsed[1], "answer": answer})
            await api.answer_prompts(token, submission_id, responses)
        except (Refused, ServiceDown) as exc:
            if wants_json(request):
                return json_refusal(exc)
            if isinstance(exc, ServiceDown):
                return await application_page(request, session, submission_id, typed=typed,
                                              outage=outage_notice(exc), status_code=503)
            fields = {f"responses.{i}.answer": name for i, name in enumerate(names)}
            return await application_page(request, session, submission_id, typed=typed, status_code=422,
                                          problems=problems_of(exc.refusal, fields, dict(typed)))
        if wants_json(request):
            return JSONResponse({"saved": True, "count": len(responses)})
        return RedirectResponse(f"/applications/{submission_id}?done=saved#answers-saved", status_code=303)

    @router.post("/applications/{submission_id}/submit", dependencies=[Checked])
    async def submit(request: Request, submission_id: str, session: SignedInSession) -> Response:
        if canonical_uuid(submission_id) is None:
            return not_found(request, NOT_FOUND)
        token = user_of(session).access_token
        # A resubmission's note to the reviewer: kept on the page through every refusal, sent only when not blank.
        note = str((await request.form()).get("note_to_reviewer", ""))
        try:
            await api_of(request).submit(token, submission_id, note.strip() or None)
        except ServiceDown as exc:
            return await application_page(request, session, submission_id, outage=outage_notice(exc), note=note,
                                          status_code=503)
        except Refused as exc:
            if exc.refusal.code == "incomplete":
                submission = await api_of(request).submission(token, submission_id)
                credential = await api_of(request).credential_version(token, submission["credential_id"],
                                                                      submission["credential_version"])
                missing = application.missing_from_refusal(exc.refusal.details,
                                                           application.sections(credential, submission))
                return await application_page(request, session, submission_id, refused_missing=missing, note=note,
                                              status_code=422)
            if exc.refusal.code == "invalid_request":
                problems = problems_of(exc.refusal, {"note_to_reviewer": NOTE_FIELD}, {NOTE_FIELD: note})
            else:
                problems = Problems()
                problems.add(None, sentence(exc.refusal))
            return await application_page(request, session, submission_id, problems=problems, note=note,
                                          status_code=422)
        return RedirectResponse(f"/applications/{submission_id}?done=submitted", status_code=303)

    return router
