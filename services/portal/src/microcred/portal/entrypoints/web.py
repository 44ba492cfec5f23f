"""What every page shares: templates, the session cookie, the signed-in person, and the CSRF check."""

from __future__ import annotations

import hmac
import logging
import time
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from microcred.portal.adapters.oidc import OidcClient, SignInFailed
from microcred.portal.adapters.platform_api import PlatformApi
from microcred.portal.adapters.sessions import Session, SessionStore, SignedIn
from microcred.portal.settings import PortalSettings

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Renew this long before the access token expires, so a call made just after the check still carries a valid one.
RENEW_BEFORE_SECONDS = 60

log = logging.getLogger(__name__)


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    pass


def cookie_name(settings: PortalSettings) -> str:
    # __Host-: the browser keeps it only if Secure, for this host alone and path /, so no sibling domain sets it.
    return "__Host-microcred-session" if settings.secure_cookies else "microcred-session"


def settings_of(request: Request) -> PortalSettings:
    settings: PortalSettings = request.app.state.settings
    return settings


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def oidc_of(request: Request) -> OidcClient:
    oidc: OidcClient = request.app.state.oidc
    return oidc


def api_of(request: Request) -> PlatformApi:
    api: PlatformApi = request.app.state.api
    return api


def current_session(request: Request) -> Session | None:
    return sessions_of(request).get(request.cookies.get(cookie_name(settings_of(request))))


def set_session_cookie(response: Response, request: Request, session: Session) -> None:
    settings = settings_of(request)
    response.set_cookie(cookie_name(settings), session.id, httponly=True, samesite="lax",
                        secure=settings.secure_cookies, path="/", max_age=settings.portal_session_idle_seconds)


def clear_session_cookie(response: Response, request: Request) -> None:
    settings = settings_of(request)
    response.delete_cookie(cookie_name(settings), path="/", secure=settings.secure_cookies, httponly=True,
                           samesite="lax")


async def signed_in(request: Request) -> Session:
    """The page needs a signed-in person; otherwise sign-in, coming back here afterwards.

    An access token about to expire is renewed first with the session's refresh token, so a teacher typing for
    an hour is not signed out under their answers; a provider that refuses the renewal ends the session."""
    session = current_session(request)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if session is None or session.user is None:
        raise SignInRequired(path)
    if session.user.expires_at - time.time() < RENEW_BEFORE_SECONDS and session.user.renewable:
        async with session.renewing:
            user = session.user
            if user is not None and user.expires_at - time.time() < RENEW_BEFORE_SECONDS:  # not renewed meanwhile
                try:
                    session.user = await oidc_of(request).refresh(user)
                except SignInFailed as exc:
                    log.info("renewal refused, signing out: %s", exc)
                    sessions_of(request).drop(session.id)
                    raise SignInRequired(path) from exc
    return session


def user_of(session: Session) -> SignedIn:
    assert session.user is not None
    return session.user


async def csrf_checked(request: Request) -> None:
    """Every form that changes something carries the session's CSRF token (the base layout's ``csrf_field``).

    SameSite=Lax already keeps the cookie off cross-site POSTs in current browsers; the token is the check that
    does not depend on the browser."""
    if request.method in SAFE_METHODS:
        return
    session = current_session(request)
    form = await request.form()  # parsed once; the route's Form parameters read the same parsed form
    sent = form.get("csrf_token")
    if session is None or not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf_token):
        raise CsrfRefused()


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    session = current_session(request)
    base = {"session": session, "user": session.user if session else None,
            "csrf_token": session.csrf_token if session else "", "local_mode": settings_of(request).mode == "local"}
    return TEMPLATES.TemplateResponse(request, template, base | context, status_code=status_code,
                                      headers={"Cache-Control": "no-store"})


SignedInSession = Annotated[Session, Depends(signed_in)]
Checked = Depends(csrf_checked)


def canonical_uuid(value: str) -> str | None:
    """An id from the address in its canonical form, or None: a malformed id is a page that does not exist, answered
    here rather than sent to a service as a 422 the person could do nothing with."""
    try:
        return str(UUID(value.strip()))
    except ValueError:
        return None


def not_found(request: Request, message: str) -> Response:
    return render(request, "error.html", {"title": "Not found", "message": message}, 404)
