"""The teacher's earned credentials: each with its share page, LinkedIn's add-to-profile link and the downloads.

The award service answers a teacher's ``GET /awards`` with their own awards only; the portal decides nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from microcred.portal.adapters.platform_api import ServiceDown
from microcred.portal.domain import earned
from microcred.portal.entrypoints.failures import SERVICE_NAMES
from microcred.portal.entrypoints.web import SignedInSession, api_of, render, user_of


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/earned")
    async def earned_page(request: Request, session: SignedInSession) -> Response:
        outage, credentials = None, []
        try:
            awards = await api_of(request).my_awards(user_of(session).access_token)
            credentials = earned.earned_list(awards, datetime.now(UTC))
        except ServiceDown as exc:
            # A page that only reads: no form to keep, so the notice says what is missing and when to look again.
            outage = (f"{SERVICE_NAMES.get(exc.service, exc.service)} is not answering right now, so your credentials cannot be shown. "
                      "Try again in a moment.")
        return render(request, "earned.html", {"title": "My credentials", "credentials": credentials,
                                               "outage": outage}, status_code=503 if outage else 200)

    return router
