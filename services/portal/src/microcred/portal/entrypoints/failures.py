"""The one place failures become pages: refusals in plain words, outages as outages, never a stack trace.

A page with a form catches :class:`Refused` and :class:`ServiceDown` itself and renders its form again with the
person's input and :func:`problems_of`'s messages beside the fields (or :func:`outage_notice` at the top). What a
page does not catch lands here: a refusal or an outage as a page of its own, anything else as a plain error page,
logged with its traceback (5xx) and never shown.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from microcred.portal.adapters.platform_api import Refused, ServiceDown, SignInExpired
from microcred.portal.domain.refusals import sentence
from microcred.portal.entrypoints.web import CsrfRefused, SignInRequired, current_session, render, sessions_of

log = logging.getLogger(__name__)

SERVICE_NAMES = {"catalog": "The catalog", "submission": "The submission service", "review": "The review service",
                 "award": "The award service", "licensure": "The licensure service"}


def outage_notice(down: ServiceDown) -> str:
    wait = f" It asked us to wait {down.retry_after} seconds." if down.retry_after else ""
    return (f"{SERVICE_NAMES.get(down.service, down.service)} is not answering right now, so this could not be "
            f"done.{wait} Nothing you entered is lost: try again in a moment.")


def install_failure_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(_: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/sign-in?{urlencode({'next': exc.next_path})}", status_code=303)

    @app.exception_handler(SignInExpired)
    async def sign_in_expired(request: Request, _: SignInExpired) -> Response:
        session = current_session(request)
        if session is not None:
            sessions_of(request).drop(session.id)
        return RedirectResponse(f"/sign-in?{urlencode({'next': request.url.path, 'expired': '1'})}", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        return render(request, "error.html", {
            "title": "This form has expired",
            "message": "The form was sent without the token of your current session (an old tab, or a page from "
                       "another site). Nothing was changed. Go back, reload the page and send it again.",
        }, status_code=403)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        status = exc.refusal.status if exc.refusal.status in (403, 404, 409, 422) else 400
        titles = {403: "Not allowed", 404: "Not found", 409: "This changed meanwhile"}
        return render(request, "error.html", {"title": titles.get(status, "This was refused"),
                                              "message": sentence(exc.refusal)}, status_code=status)

    @app.exception_handler(ServiceDown)
    async def service_down(request: Request, exc: ServiceDown) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        response = render(request, "error.html", {"title": "A service is not answering",
                                                  "message": outage_notice(exc)}, status_code=503)
        response.headers.update(headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return render(request, "error.html", {"title": "Page not found",
                                                  "message": "There is no page at this address."}, status_code=404)
        if exc.status_code == 405:
            return render(request, "error.html", {"title": "Not available",
                                                  "message": "This page cannot be used that way."}, status_code=405)
        return render(request, "error.html", {"title": "This was refused", "message": str(exc.detail)},
                      status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return render(request, "error.html", {
            "title": "Something went wrong",
            "message": "The portal ran into a problem it did not expect. It has been logged. Try again, and if it "
                       "happens again, tell your administrator the time it happened.",
        }, status_code=500)
