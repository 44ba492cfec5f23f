"""The shared part of every service's composition root.

``ServiceRuntime`` owns what every service has (engine, broker, relay, metrics, tracing, token
verification) and the HTTP app around it. A service's ``bootstrap.py`` builds one, registers its
consumers and routes, and hands out its unit of work. Nothing here connects at import time: the
broker, relay and pools start in the app's lifespan and stop when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from microcred.events import IntegrationEvent
from microcred.runtime.auth import JwtVerifier
from microcred.runtime.broker import asyncapi_document, create_broker, declare_publishers
from microcred.runtime.context import correlation_id_var, parse_uuid
from microcred.runtime.errors import DomainError
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.outages import OUTAGE_ERROR_TYPES, unavailable_dependency
from microcred.runtime.relay import OutboxRelay
from microcred.runtime.settings import ServiceSettings
from microcred.runtime.telemetry import create_tracer_provider
from microcred.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)
U = TypeVar("U", bound=UnitOfWork)


HTTP_ERROR_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def error_response(
    status_code: int, code: str, message: str, details: object = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "detail": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status_code, headers=dict(headers) if headers else None)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        tables: MessagingTables,
        produces: Iterable[type[IntegrationEvent]],
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.registry = CollectorRegistry()
        self.tracer_provider = create_tracer_provider(settings.service_name, settings.otel_exporter_otlp_endpoint)
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            pool_pre_ping=settings.database_pool_pre_ping,
            pool_recycle=settings.database_pool_recycle_seconds,
        )
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False)
        self.broker, self.consumer_policy = create_broker(
            settings, tracer_provider=self.tracer_provider, registry=self.registry
        )
        self.relay = OutboxRelay(
            self.session_factory,
            tables,
            declare_publishers(self.broker, produces),
            service=settings.service_name,
            registry=self.registry,
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval_seconds,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.verifier = JwtVerifier(
            settings.auth_jwks_url, issuer=settings.auth_issuer, audience=settings.auth_audience
        )

    def unit_of_work(self, cls: Callable[..., U]) -> Callable[[], U]:
        def make() -> U:
            return cls(self.session_factory, self.tables, self.settings.service_name, self.relay.wake)

        return make

    async def check_health(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        checks["broker"] = "ok" if await self.broker.ping(timeout=2.0) else "error: unreachable"
        return checks

    def run_in_background(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``job`` for the app's lifetime: started once the broker and relay run, cancelled before they stop."""
        self.background.append(job)

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.broker.start()
        tasks = [asyncio.create_task(self.relay.run(), name="outbox-relay")]
        tasks += [asyncio.create_task(job(), name=getattr(job, "__name__", "background")) for job in self.background]
        log.info("service started", extra={"http_port": self.settings.http_port})
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.broker.stop()
            await self.engine.dispose()
            self.tracer_provider.shutdown()

    def create_app(self, *routers: APIRouter, title: str, description: str = "") -> FastAPI:
        app = FastAPI(title=title, description=description, version="0.1.0", lifespan=self.lifespan)
        app.state.verifier = self.verifier
        app.state.runtime = self
        for router in routers:
            app.include_router(router)
        self._add_operational_routes(app)
        self._add_middleware(app)
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.tracer_provider, excluded_urls="health,livez,metrics"
        )
        return app

    def _add_operational_routes(self, app: FastAPI) -> None:
        runtime = self

        @app.get("/health", tags=["operations"])
        async def health() -> JSONResponse:
            checks = await runtime.check_health()
            healthy = all(value == "ok" for value in checks.values())
            return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                                status_code=200 if healthy else 503)

        @app.get("/livez", tags=["operations"])
        async def livez() -> dict[str, str]:
            """Liveness: the process serves requests. Dependencies are /health's business."""
            return {"status": "ok"}

        @app.get("/metrics", tags=["operations"])
        async def metrics() -> Response:
            return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/asyncapi.json", tags=["operations"])
        async def asyncapi() -> dict[str, Any]:
            return asyncapi_document(runtime.broker, runtime.settings.service_name)

        # Every error has one shape, {"error": code, "detail": message[, "details": ...]}, so clients
        # branch on "error" whether a use case, the auth layer or request validation refused.
        @app.exception_handler(DomainError)
        async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
            return error_response(exc.status_code, exc.code, exc.message, exc.details)

        @app.exception_handler(StarletteHTTPException)
        async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
            code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
            return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

        # A dependency that is unreachable or not ready (database, broker, object store; see runtime.outages)
        # fails the request with a retryable 503. After a dropped connection SQLAlchemy discards the pool's
        # other connections of that age, so the client's retry gets a fresh one.
        async def dependency_unavailable(_: Request, exc: Exception) -> Response:
            dependency = unavailable_dependency(exc)
            if dependency is None:
                raise exc
            log.warning("%s unavailable: %s: %s", dependency, type(exc).__name__, exc)
            # A bare socket error does not say whose socket it was; the driver's detail stays in the log.
            what = "a dependency of the service" if dependency == "network" else f"the service's {dependency}"
            return error_response(503, "unavailable", f"{what} is unavailable; retry shortly",
                                  headers={"Retry-After": "1"})

        for error_type in OUTAGE_ERROR_TYPES:
            app.add_exception_handler(error_type, dependency_unavailable)

        @app.exception_handler(RequestValidationError)
        async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
            details = jsonable_encoder(exc.errors(), exclude={"ctx", "url"})
            return error_response(422, "invalid_request", "the request does not match the API schema", details)

    def _add_middleware(self, app: FastAPI) -> None:
        requests = Counter(
            "microcred_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        latency = Histogram(
            "microcred_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        app.add_middleware(CorrelateAndMeasure, requests=requests, latency=latency)


class CorrelateAndMeasure:
    """Sets the request's correlation id and counts and times it by route template.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs every request
    through an extra task and memory streams, which cost more than the rest of a small request's framework
    overhead together.
    """

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"x-correlation-id"), None)
        token = correlation_id_var.set(parse_uuid(header))
        status = 500  # what the server answers if the app raises before starting a response

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            correlation_id_var.reset(token)
            # The router has written the matched route into the scope by now.
            template = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], template, str(status)).inc()
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - started)
