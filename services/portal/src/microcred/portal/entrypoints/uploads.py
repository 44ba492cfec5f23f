"""The teacher's uploads on the application page: declare, upload in parts, pause, resume after a reload, complete,
and the teacher's own video played back with its captions.

Evidence bytes never pass through the portal on the way in: it declares an item with the teacher's token and hands
the browser the presigned URL(s) the submission service answers; the browser PUTs to the object store and asks the
portal to complete, which has the service verify what landed. A multipart upload resumes from the store's own list
of the parts it holds (the service's ``GET .../parts``) with fresh URLs for the rest, so nothing the browser
remembers is trusted beyond the evidence id. Every endpoint here answers the script in JSON (``saved``/``reason``).

Playback: the ``<video>`` loads from the object store through a presigned URL (``.../file`` redirects to it; the
page's media-src names the store's origin). A ``<track>`` must be same-origin (or CORS-fetched, which a redirect to
another origin makes ``Origin: null``), and the portal reaches no object store (its network policy), so the script
fetches the captions from the store itself (``.../link`` gives a fresh URL; the bucket's CORS rule that lets the
browser upload lets it read) and hands the track a ``blob:`` URL of them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown
from microcred.portal.domain import uploads
from microcred.portal.entrypoints.application import json_refusal
from microcred.portal.entrypoints.web import (
    Checked,
    SignedInSession,
    api_of,
    canonical_uuid,
    not_found,
    user_of,
)

DECLARATION = ("requirement_key", "filename", "content_type", "size_bytes", "sha256")


def _no_upload() -> JSONResponse:
    return JSONResponse({"saved": False, "reason": "There is no such upload."}, 404)


NOT_FOUND = "There is no such file."


def create_router() -> APIRouter:
    router = APIRouter()

    @router.post("/applications/{submission_id}/evidence", dependencies=[Checked])
    async def declare(request: Request, submission_id: str, session: SignedInSession) -> Response:
        """The script's first step of an upload: the presigned URL(s) for one file, or why not."""
        if canonical_uuid(submission_id) is None:
            return JSONResponse({"saved": False, "reason": "There is no application at this address."}, 404)
        form = await request.form()
        declaration: dict[str, Any] = {name: str(form.get(name, "")) for name in DECLARATION}
        if not declaration["size_bytes"].isdigit():
            return JSONResponse({"saved": False, "reason": "The file's size could not be read."}, 422)
        declaration["size_bytes"] = int(declaration["size_bytes"])
        captions_for = str(form.get("captions_for", ""))
        if captions_for:
            if canonical_uuid(captions_for) is None:
                return JSONResponse({"saved": False, "reason": "These captions name no video."}, 422)
            declaration["captions_for"] = captions_for
        try:
            ticket = await api_of(request).declare_evidence(user_of(session).access_token, submission_id,
                                                            declaration)
        except (Refused, ServiceDown) as exc:
            return json_refusal(exc)
        return JSONResponse(ticket, status_code=201)

    @router.get("/applications/{submission_id}/evidence/{evidence_id}/parts")
    async def parts(request: Request, submission_id: str, evidence_id: str, session: SignedInSession) -> Response:
        """What the object store holds of an unfinished upload: the parts that landed and those still missing."""
        if canonical_uuid(submission_id) is None or canonical_uuid(evidence_id) is None:
            return _no_upload()
        try:
            found = await api_of(request).uploaded_parts(user_of(session).access_token, submission_id, evidence_id)
        except (Refused, ServiceDown) as exc:
            return json_refusal(exc)
        return JSONResponse(found)

    @router.post("/applications/{submission_id}/evidence/{evidence_id}/parts", dependencies=[Checked])
    async def fresh_parts(request: Request, submission_id: str, evidence_id: str,
                          session: SignedInSession) -> Response:
        """Fresh URLs for the parts still to send (the earlier ones expire, and a reloaded page has none)."""
        if canonical_uuid(submission_id) is None or canonical_uuid(evidence_id) is None:
            return _no_upload()
        wanted = uploads.part_numbers(str((await request.form()).get("part_numbers", "")))
        if wanted is None:
            return JSONResponse({"saved": False, "reason": "No parts were asked for."}, 422)
        try:
            ticket = await api_of(request).fresh_part_urls(user_of(session).access_token, submission_id,
                                                           evidence_id, wanted)
        except (Refused, ServiceDown) as exc:
            return json_refusal(exc)
        return JSONResponse(ticket)

    @router.post("/applications/{submission_id}/evidence/{evidence_id}/complete", dependencies=[Checked])
    async def complete(request: Request, submission_id: str, evidence_id: str, session: SignedInSession) -> Response:
        """The script's last step: the service verifies what landed in the store and answers the facts."""
        if canonical_uuid(submission_id) is None or canonical_uuid(evidence_id) is None:
            return _no_upload()
        try:
            evidence = await api_of(request).complete_evidence(user_of(session).access_token, submission_id,
                                                               evidence_id)
        except (Refused, ServiceDown) as exc:
            return json_refusal(exc)
        return JSONResponse(evidence)

    @router.post("/applications/{submission_id}/evidence/{evidence_id}/discard", dependencies=[Checked])
    async def discard(request: Request, submission_id: str, evidence_id: str, session: SignedInSession) -> Response:
        """Give up an interrupted upload (the teacher chose another file): it stops holding a place among the
        requirement's files, and the service aborts what landed."""
        if canonical_uuid(submission_id) is None or canonical_uuid(evidence_id) is None:
            return _no_upload()
        try:
            await api_of(request).withdraw_evidence(user_of(session).access_token, submission_id, evidence_id)
        except (Refused, ServiceDown) as exc:
            return json_refusal(exc)
        return JSONResponse({"saved": True})

    @router.get("/applications/{submission_id}/evidence/{evidence_id}/file")
    async def file(request: Request, submission_id: str, evidence_id: str, session: SignedInSession) -> Response:
        """The teacher's own file, from a short-lived URL of the store (the preview's ``<video>`` source)."""
        if canonical_uuid(submission_id) is None or canonical_uuid(evidence_id) is None:
            return not_found(request, NOT_FOUND)
        try:
            url = await api_of(request).evidence_download_url(user_of(session).access_token, submission_id,
                                                              evidence_id)
        except Refused:
            return not_found(request, NOT_FOUND)
        response = RedirectResponse(url, status_code=303)
        response.headers["Cache-Control"] = "no-store"  # the URL it points to expires
        return response

    @router.get("/applications/{submission_id}/evidence/{evidence_id}/link")
    async def link(request: Request, submission_id: str, evidence_id: str, session: SignedInSession) -> Response:
        """A fresh short-lived URL of the teacher's own file, for the script that loads a captions track."""
        if canonical_uuid(submission_id) is None or canonical_uuid(evidence_id) is None:
            return _no_upload()
        try:
            url = await api_of(request).evidence_download_url(user_of(session).access_token, submission_id,
                                                              evidence_id)
        except (Refused, ServiceDown) as exc:
            return json_refusal(exc)
        return JSONResponse({"download_url": url}, headers={"Cache-Control": "no-store"})

    return router
