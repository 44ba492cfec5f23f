"""The composition root: settings in, a FastAPI app out. Nothing connects at import time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from microcred.portal.adapters.oidc import OidcClient
from microcred.portal.adapters.platform_api import PlatformApi
from microcred.portal.adapters.sessions import SessionStore
from microcred.portal.entrypoints import (
    agency,
    agency_recognition_decisions,
    agency_recognitions,
    agency_webhooks,
    application,
    authoring,
    earned,
    licenses,
    operations,
    operations_people,
    pages,
    recognitions,
    reviews,
    sign_in,
    uploads,
)
from microcred.portal.entrypoints.failures import install_failure_pages
from microcred.portal.settings import PortalSettings
from microcred.runtime.auth import DevTokenIssuer
from microcred.runtime.dev_oidc import create_dev_oidc_app

DEV_PROVIDER_PATH = "/dev-oidc"


def security_headers(upload_origin: str) -> dict[str, str]:
    """Every page says where it may load from and who may frame it: the portal serves all its own scripts and
    styles; scripts may connect to the portal and to the object store, where evidence is uploaded; videos play and
    images show straight from the store's short-lived URLs (media-src, img-src), a captions track from the blob: the
    teacher's page fetched it into."""
    return {
        "Content-Security-Policy": f"default-src 'self'; connect-src 'self' {upload_origin}; "
                                   f"media-src 'self' {upload_origin} blob:; "
                                   f"style-src 'self' 'unsafe-inline'; img-src 'self' data: {upload_origin}; "
                                   "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def build_app(settings: PortalSettings) -> FastAPI:
    public_url = settings.portal_public_url.rstrip("/")
    redirect_uri = f"{public_url}/auth/callback"
    issuer_url = f"{public_url}{DEV_PROVIDER_PATH}" if settings.local_provider else settings.oidc_issuer_url
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    urls = settings.service_urls
    oidc = OidcClient(issuer_url, settings.oidc_client_id, redirect_uri, settings.oidc_scopes, http)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.aclose()

    app = FastAPI(title="Microcred portal", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    app.state.sessions = SessionStore(settings.portal_session_idle_seconds, settings.portal_max_sessions)
    app.state.api = PlatformApi(urls, http)
    app.state.oidc = oidc

    headers = security_headers(origin_of(settings.s3_public_endpoint))

    @app.middleware("http")
    async def headers_and_timing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        # The page's own server time, for the browser's developer tools and the p95 measurement in the tests.
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    @app.get("/health", include_in_schema=False)
    async def health() -> JSONResponse:
        # Ready means the pages can be served; the services' own health is theirs to report.
        return JSONResponse({"status": "ok"})

    @app.get("/livez", include_in_schema=False)
    async def livez() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    install_failure_pages(app)
    app.include_router(sign_in.create_router(oidc))
    app.include_router(pages.create_router())
    app.include_router(application.create_router())
    app.include_router(authoring.create_router())
    app.include_router(operations.create_router())
    app.include_router(operations_people.create_router())
    app.include_router(agency.create_router())
    app.include_router(agency_webhooks.create_router())
    # Before agency_recognitions: its /agency/recognitions/{program_id} would otherwise take /pending and /decide.
    app.include_router(agency_recognition_decisions.create_router())
    app.include_router(agency_recognitions.create_router())
    app.include_router(earned.create_router())
    app.include_router(licenses.create_router())
    app.include_router(recognitions.create_router())
    app.include_router(uploads.create_router())
    app.include_router(reviews.create_router())
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "entrypoints" / "static")), name="static")
    if settings.local_provider:
        issuer = DevTokenIssuer(settings.portal_dev_key_dir, issuer=settings.auth_issuer,
                                audience=settings.auth_audience)
        app.mount(DEV_PROVIDER_PATH, create_dev_oidc_app(issuer, base_url=issuer_url,
                                                         client_id=settings.oidc_client_id,
                                                         redirect_uris={redirect_uri}))
    return app
