"""The composition root: settings in, a FastAPI app out, whose lifespan runs the canary loop.

Nothing connects at import time; the HTTP client and the loop live exactly as long as the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from microcred.canary.adapters.metrics import CanaryMetrics
from microcred.canary.adapters.platform_api import PlatformApi
from microcred.canary.adapters.tokens import DevIssuerTokens, TokenFiles, TokenSource
from microcred.canary.entrypoints.api import create_router
from microcred.canary.service_layer.probe import Canary, Timing
from microcred.canary.settings import CanarySettings


def token_source(settings: CanarySettings) -> TokenSource:
    if settings.canary_auth == "files":
        return TokenFiles(settings.canary_token_dir)
    return DevIssuerTokens(settings.canary_dev_key_dir, settings.canary_state, issuer=settings.auth_issuer,
                           audience=settings.auth_audience)


def build_canary(settings: CanarySettings, http: httpx.AsyncClient, metrics: CanaryMetrics) -> Canary:
    urls = settings.service_urls
    timing = Timing(settings.canary_interval_seconds, settings.canary_sla_seconds, settings.canary_poll_seconds)
    api = PlatformApi(urls, token_source(settings), http, upload_via=settings.canary_evidence_upload_via)
    return Canary(api, metrics, timing, settings.canary_state)


def build_app(settings: CanarySettings) -> FastAPI:
    metrics = CanaryMetrics()
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.http_timeout_seconds) as http:
            canary = build_canary(settings, http, metrics)
            loop = asyncio.create_task(canary.run_forever(), name="canary-loop")
            state.update(canary=canary, loop=loop)
            try:
                yield
            finally:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop

    def health() -> dict[str, str]:
        canary = state.get("canary")
        if not isinstance(canary, Canary):
            return {"loop": "not started"}
        late = 2 * settings.canary_interval_seconds + 5
        started = canary.last_started
        return {
            "provisioned": "ok" if canary.fixture is not None else "not yet (see the logs)",
            "loop": "ok" if started is not None and canary.clock() - started < late else "no canary started lately",
        }

    def alive() -> bool:
        loop = state.get("loop")
        return isinstance(loop, asyncio.Task) and not loop.done()

    app = FastAPI(title="Microcred canary", version="0.1.0", lifespan=lifespan)
    app.include_router(create_router(metrics.registry, health, alive))
    app.state.metrics = metrics
    return app
