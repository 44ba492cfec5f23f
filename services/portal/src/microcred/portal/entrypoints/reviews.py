"""The reviewer's pages: the queue of their open reviews, and one review with the evidence beside the rubric.

Blind by default: the review and submission services answer a reviewer nothing that names the teacher, and these
pages show only what they answer. Evidence bytes do not pass through the portal, except two small kinds: a text
document shown inline (read from its short-lived URL) and a captions track, served from the portal's own origin
because Chromium refuses a cross-origin <track> unless the video is fetched with CORS, which the object store's
presigned URLs are not set up for.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.platform_api import PlatformApi, Refused, ServiceDown
from microcred.portal.adapters.sessions import Session
from microcred.portal.domain import reviews
from microcred.portal.domain.application import STATUS_WORDS, when
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

DONE = {"scored": "Your scores are recorded.", "declined": "The review was declined and handed back."}
CAPTIONS_BYTES = 1_000_000
NOT_FOUND = "There is no review at this address."


async def _credential_names(api: PlatformApi, token: str, ids: list[str]) -> dict[str, str]:
    async def name(credential_id: str) -> tuple[str, str]:
        try:
            return credential_id, str((await api.credential(token, credential_id))["name"])
        except Refused:  # retired or hidden: the queue still lists the review
            return credential_id, "A credential no longer in the catalog"

    return dict(await asyncio.gather(*(name(c) for c in ids)))


async def _evidence_links(api: PlatformApi, token: str, submission_id: str,
                          sections: list[reviews.EvidenceSection]) -> tuple[dict[str, str], dict[str, str]]:
    """Short-lived URLs for the files the page shows or links, and the text of small text documents."""
    files = [f for s in sections for f in s.files]

    async def link(evidence_id: str) -> tuple[str, str]:
        try:
            return evidence_id, str((await api.evidence_download(token, submission_id, evidence_id))["download_url"])
        except Refused:  # deleted (409) or no longer this reviewer's: shown as unavailable
            return evidence_id, ""

    urls = dict(await asyncio.gather(*(link(f.evidence_id) for f in files)))
    texts_for = [f for f in files if f.shown_as == "text" and urls.get(f.evidence_id)]
    texts = await asyncio.gather(*(api.fetch_evidence_text(urls[f.evidence_id], reviews.INLINE_TEXT_BYTES)
                                   for f in texts_for))
    return urls, {f.evidence_id: text for f, text in zip(texts_for, texts, strict=True) if text is not None}


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/reviews")
    async def queue(request: Request, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        query = reviews.queue_query(request.query_params)
        (found, total), summary, reliability = await asyncio.gather(
            api.assigned_reviews(token, query.api_params()), api.assigned_summary(token), api.own_reliability(token))
        credential_ids = [c["credential_id"] for c in summary.get("credentials", [])]
        names = await _credential_names(api, token, sorted({*credential_ids, *(r["credential_id"] for r in found)}))
        now = datetime.now(UTC)
        return render(request, "reviews_queue.html", {
            "title": "Review queue", "rows": found, "summary": summary, "reliability": reliability,
            "names": names, "query": query, "pager": reviews.pager(total, query.page),
            "due": lambda at: reviews.due(at, now), "when": when, "notice": DONE.get(request.query_params.get("done", ""), ""),
            "sorts": reviews.SORTS, "due_filters": reviews.DUE_FILTERS, "role_filters": reviews.ROLE_FILTERS,
            "role_words": reviews.ROLE_WORDS, "credential_choices": summary.get("credentials", []),
        })

    async def review_page(request: Request, session: Session, review_id: str, *, problems: Problems | None = None,
                          typed: dict[str, str] | None = None, reason: str = "", outage: str | None = None,
                          status_code: int = 200) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        review = await api.review(token, review_id)
        evidence_note = ""
        try:
            submission, credential = await asyncio.gather(
                api.submission(token, review["submission_id"]),
                api.credential_version(token, review["credential_id"], review["credential_version"]))
            sections = reviews.evidence_sections(credential, submission)
            urls, texts = await _evidence_links(api, token, review["submission_id"], sections)
        except Refused:
            # The submission service grants reading once it hears of the assignment (an event, within seconds) and
            # ends it when the review is handed back or decided; the rubric and any scores still show.
            sections, urls, texts = [], {}, {}
            evidence_note = ("The submission service does not let you read this evidence at the moment: access "
                             "starts a few seconds after a review is assigned and ends once it is decided or handed "
                             "back. Reload the page in a moment.")
        rubric = review.get("rubric") or {"criteria": []}
        built = reviews.criteria(rubric, review.get("results"), typed)
        note = review.get("teacher_note")
        return render(request, "reviews_review.html", {
            "title": review.get("credential_name") or "Review", "review": review, "criteria": built,
            "passing": reviews.passing_words(rubric) if rubric.get("criteria") else "",
            "sections": sections, "urls": urls, "texts": texts, "evidence_note": evidence_note,
            "teacher_note": note if isinstance(note, str) and note.strip() else "",
            "scorable": review.get("status") == "assigned", "problems": problems or Problems(), "reason": reason,
            "outage": outage, "role_words": reviews.ROLE_WORDS, "when": when, "status_words": STATUS_WORDS,
            "due": reviews.due(review.get("due_at"), datetime.now(UTC)),
        }, status_code=status_code)

    @router.get("/reviews/{review_id}")
    async def show(request: Request, review_id: str, session: SignedInSession) -> Response:
        if not canonical_uuid(review_id):
            return not_found(request, NOT_FOUND)
        return await review_page(request, session, review_id)

    @router.post("/reviews/{review_id}/score", dependencies=[Checked])
    async def score(request: Request, review_id: str, session: SignedInSession) -> Response:
        if not canonical_uuid(review_id):
            return not_found(request, NOT_FOUND)
        token = user_of(session).access_token
        api = api_of(request)
        form = {name: str(value) for name, value in (await request.form()).items()}
        review = await api.review(token, review_id)  # gone or not theirs: the failure pages say so
        rubric = review.get("rubric") or {"criteria": []}
        results, typed = reviews.results_from_form(form, reviews.criteria(rubric))
        try:
            await api.score_review(token, review_id, results)
        except ServiceDown as exc:
            return await review_page(request, session, review_id, typed=typed, outage=outage_notice(exc),
                                     status_code=503)
        except Refused as exc:
            return await review_page(request, session, review_id, typed=typed, status_code=422,
                                     problems=reviews.score_problems(exc.refusal,
                                                                     reviews.criteria(rubric, typed=typed)))
        return RedirectResponse("/reviews?done=scored", status_code=303)

    @router.post("/reviews/{review_id}/decline", dependencies=[Checked])
    async def decline(request: Request, review_id: str, session: SignedInSession) -> Response:
        if not canonical_uuid(review_id):
            return not_found(request, NOT_FOUND)
        reason = str((await request.form()).get("reason", ""))
        try:
            await api_of(request).decline_review(user_of(session).access_token, review_id, reason)
        except ServiceDown as exc:
            return await review_page(request, session, review_id, reason=reason, outage=outage_notice(exc),
                                     status_code=503)
        except Refused as exc:
            problems = problems_of(exc.refusal, {"reason": "reason"}, {"reason": reason})
            if exc.refusal.code == "reason_required" or not reason.strip():  # the service's words name a list
                problems = Problems()
                problems.add("reason", "Give a reason for declining.")
            return await review_page(request, session, review_id, reason=reason, problems=problems,
                                     status_code=422)
        return RedirectResponse("/reviews?done=declined", status_code=303)

    @router.get("/reviews/{review_id}/captions/{evidence_id}")
    async def captions(request: Request, review_id: str, evidence_id: str, session: SignedInSession) -> Response:
        """A captions track of a video under review, from the same short-lived URL, served from this origin."""
        if not (canonical_uuid(review_id) and canonical_uuid(evidence_id)):
            return Response(status_code=404)
        token = user_of(session).access_token
        api = api_of(request)
        try:
            review = await api.review(token, review_id)
            ticket = await api.evidence_download(token, review["submission_id"], evidence_id)
        except Refused:
            return Response(status_code=404)
        text = await api.fetch_evidence_text(ticket["download_url"], CAPTIONS_BYTES)
        if text is None or not text.lstrip("\ufeff").startswith("WEBVTT"):
            return Response(status_code=404)
        return Response(text, media_type="text/vtt", headers={"Cache-Control": "private, no-store"})

    return router
