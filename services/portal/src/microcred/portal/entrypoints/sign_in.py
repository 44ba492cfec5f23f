"""Sign-in (OpenID Connect, code with PKCE) and sign-out. Tokens stay in the server-side session."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from microcred.portal.adapters.oidc import OidcClient, SignInFailed
from microcred.portal.adapters.sessions import PendingSignIn
from microcred.portal.entrypoints.web import (
    clear_session_cookie,
    csrf_checked,
    current_session,
    render,
    sessions_of,
    set_session_cookie,
)

log = logging.getLogger(__name__)


def local_path(value: str | None) -> str:
    """Only a path on this site is a place to come back to (no open redirect through ``next``)."""
    if not value:
        return "/catalog"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/catalog"
    return value


def create_router(oidc: OidcClient) -> APIRouter:
    router = APIRouter()

    @router.get("/sign-in")
    async def sign_in(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
        session = current_session(request) or sessions_of(request).new()
        start = await oidc.start()
        session.pending = PendingSignIn(state=start.state, nonce=start.nonce, verifier=start.verifier,
                                        next_path=local_path(next))
        response = RedirectResponse(start.url, status_code=303)
        set_session_cookie(response, request, session)
        return response

    @router.get("/auth/callback")
    async def callback(request: Request, code: Annotated[str | None, Query(max_length=2000)] = None,
                       state: Annotated[str | None, Query(max_length=2000)] = None,
                       error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
        session = current_session(request)
        pending = session.pending if session else None
        # The state must be the one this browser's session sent: a callback planted from elsewhere signs no one in.
        if session is None or pending is None or state != pending.state or error or not code:
            log.info("sign-in callback refused: %s", error or "no pending sign-in or state mismatch")
            return render(request, "error.html", {
                "title": "Sign-in did not complete",
                "message": "The sign-in was cancelled, expired, or started in another window. Sign in again.",
                "sign_in_again": True}, status_code=400)
        session.pending = None
        try:
            identity = await oidc.finish(code, pending.verifier, pending.nonce)
        except SignInFailed as exc:
            log.warning("sign-in failed: %s", exc)
            return render(request, "error.html", {
                "title": "Sign-in did not complete",
                "message": "The identity provider's answer could not be checked. Sign in again.",
                "sign_in_again": True}, status_code=400)
        session.user = identity
        session = sessions_of(request).rotate(session)
        response = RedirectResponse(pending.next_path, status_code=303)
        set_session_cookie(response, request, session)
        return response

    @router.post("/sign-out", dependencies=[Depends(csrf_checked)])
    async def sign_out(request: Request) -> Response:
        session = current_session(request)
        if session is not None:
            sessions_of(request).drop(session.id)
        response = RedirectResponse("/", status_code=303)
        clear_session_cookie(response, request)
        return response

    return router
