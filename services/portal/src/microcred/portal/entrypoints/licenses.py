"""License progress per state: how far each license is toward renewal, the credits with their credentials' names,
and what waits for district approval. Licensure answers a teacher with their own licenses only."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response

from microcred.portal.adapters.platform_api import ServiceDown
from microcred.portal.domain import licenses
from microcred.portal.entrypoints.failures import SERVICE_NAMES
from microcred.portal.entrypoints.web import SignedInSession, api_of, render, user_of


def create_router() -> APIRouter:
    router = APIRouter()

    @router.get("/licenses")
    async def licenses_page(request: Request, session: SignedInSession) -> Response:
        token = user_of(session).access_token
        api = api_of(request)
        outage, progress = None, []
        try:
            found = await api.licenses(token)
            # One request per license, side by side: a teacher holds a license in a state or two.
            answers = await asyncio.gather(*(api.license_progress(token, lic["license_id"]) for lic in found))
            progress = sorted((licenses.progress(answer) for answer in answers), key=lambda p: p.state_name)
        except ServiceDown as exc:
            # A page that only reads: no form to keep, so the notice says what is missing and when to look again.
            outage = (f"{SERVICE_NAMES.get(exc.service, exc.service)} is not answering right now, so your license progress cannot be shown. "
                      "Try again in a moment.")
        return render(request, "licenses.html", {"title": "License progress", "licenses": progress,
                                                 "outage": outage}, status_code=503 if outage else 200)

    return router
