"""The canary's HTTP face: operations only (/health, /livez, /metrics). It serves no API of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def create_router(registry: CollectorRegistry, health: Callable[[], dict[str, str]],
                  alive: Callable[[], bool]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health_check() -> JSONResponse:
        """Ready: provisioned on the platform, and canaries are being started on time."""
        checks = health()
        healthy = all(value == "ok" for value in checks.values())
        body: dict[str, Any] = {"status": "ok" if healthy else "degraded", "checks": checks}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @router.get("/livez")
    async def livez() -> JSONResponse:
        """Alive: the canary loop is still running (a loop that died is restarted by a failing probe)."""
        ok = alive()
        return JSONResponse({"status": "ok" if ok else "dead"}, status_code=200 if ok else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
