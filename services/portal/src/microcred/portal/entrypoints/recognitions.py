"""A teacher's recognitions: each program of their licenses' states and districts in plain words, how far they are
("4 of 6 for Mentor Teacher"), what they hold, and the credentials that count and those still missing. Licensure
answers a teacher with their own standing only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from microcred.portal.adapters.platform_api import ServiceDown
from microcred.portal.domain import recognitions
from microcred.portal.entrypoints.failures import SERVICE_NAMES
from microcred.portal.entrypoints.web import SignedInSession, api_of, render, user_of


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/recognitions")
    async def recognitions_page(request: Request, session: SignedInSession) -> Response:
        outage, programs = None, []
        try:
            programs = recognitions.teacher_programs(await api_of(request).my_recognitions(user_of(session).access_token))
        except ServiceDown as exc:
            # A page that only reads: no form to keep, so the notice says what is missing and when to look again.
            outage = (f"{SERVICE_NAMES.get(exc.service, exc.service)} is not answering right now, so your "
                      "recognitions cannot be shown. Try again in a moment.")
        return render(request, "recognitions.html", {"title": "Recognitions", "programs": programs,
                                                     "outage": outage}, status_code=503 if outage else 200)

    return router
