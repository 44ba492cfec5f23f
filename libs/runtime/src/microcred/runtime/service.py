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
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from microcred.events import IntegrationEvent
from microcred.events.topics import consumer_group
from microcred.runtime.api import install_error_handlers, media, operation_id, truthful_openapi
from microcred.runtime.asyncapi import asyncapi_document
from microcred.runtime.auth import JwtVerifier
from microcred.runtime.broker import create_broker, declare_publishers
from microcred.runtime.cancellation import stop_if_cancelled
from microcred.runtime.context import correlation_id_var, parse_uuid
from microcred.runtime.http_tracing import TracedFastAPI, name_server_span, record_exception
from microcred.runtime.kafka_clients import kafka_client_options
from microcred.runtime.lag import ConsumerLagMonitor
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.relay import OutboxRelay
from microcred.runtime.settings import ServiceSettings
from microcred.runtime.telemetry import create_tracer_provider
from microcred.runtime.uow import UnitOfWork

log = logging.getLogger(__name__)
U = TypeVar("U", bound=UnitOfWork)

OPENAPI_NOTES = """

Every refusal has one JSON shape, `ErrorBody`: `{"error": code, "detail": message, "details": ...}`. An
operation lists each status it may answer. Any method a path does not list answers 405 in the same shape.
Request bodies are limited (`x-max-body-bytes` on each operation that takes one); a caller without a
valid token gets 401 before its body is read. A 503 carries `Retry-After`."""


def database_engine(settings: ServiceSettings) -> AsyncEngine:
    """The service's engine, its pool sized by the settings (why those sizes: ``ServiceSettings``)."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_max_overflow,
        pool_pre_ping=settings.database_pool_pre_ping,
        pool_recycle=settings.database_pool_recycle_seconds,
    )


class HealthReport(BaseModel):
    status: str
    checks: dict[str, str]


class PrometheusText(Response):
    media_type = CONTENT_TYPE_LATEST


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        tables: MessagingTables,
        produces: Iterable[type[IntegrationEvent]],
        consumes: Iterable[type[IntegrationEvent]] | None = None,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.produces = tuple(produces)
        # A service's declared subscriptions (its topics.CONSUMES), checked against what it registers in
        # create_app; None only where a test wires ad hoc subscribers.
        self.consumes = None if consumes is None else tuple(consumes)
        self.registry = CollectorRegistry()
        self.tracer_provider = create_tracer_provider(settings.service_name, settings.otel_exporter_otlp_endpoint)
        self.engine = database_engine(settings)
        self.session_factory = async_sessionmaker(self.engine, expire_on_commit=False)
        self.broker, self.consumer_policy = create_broker(
            settings, tracer_provider=self.tracer_provider, registry=self.registry
        )
        self.relay = OutboxRelay(
            self.session_factory,
            tables,
            declare_publishers(self.broker, self.produces),
            service=settings.service_name,
            registry=self.registry,
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval_seconds,
            linger=settings.relay_linger_ms / 1000,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
        self.lag = ConsumerLagMonitor(self.consumer_policy, registry=self.registry, **kafka_client_options(settings))
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.closers: list[Callable[[], Coroutine[Any, Any, None]]] = []
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

    def close_at_shutdown(self, close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Await ``close`` as the app stops, after the background jobs: for a client the service's own code
        opened (a connection pool of its own)."""
        self.closers.append(close)

    async def refresh_metrics(self) -> None:
        """Refresh the gauges read from the database and the broker, every ``metrics_refresh_interval_seconds``.

        A refresh that fails (the database or broker is away) leaves the gauges at their last values; the
        next one tries again. Each source is refreshed on its own, so one away does not stall the other.
        """
        while True:
            for name, refresh in (("outbox", self.relay.measure), ("consumer lag", self.lag.refresh)):
                try:
                    await refresh()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    stop_if_cancelled(exc)
                    log.warning("refreshing the %s metrics failed (%s: %s)", name, type(exc).__name__, exc)
            await asyncio.sleep(self.settings.metrics_refresh_interval_seconds)

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.broker.start()
        tasks = [asyncio.create_task(self.relay.run(), name="outbox-relay"),
                 asyncio.create_task(self.refresh_metrics(), name="metrics-refresh")]
        tasks += [asyncio.create_task(job(), name=getattr(job, "__name__", "background")) for job in self.background]
        log.info("service started", extra={"http_port": self.settings.http_port})
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in self.closers:
                try:
                    await close()
                except Exception:
                    log.warning("closing %s failed", getattr(close, "__qualname__", close), exc_info=True)
            await self.lag.stop()
            await self.broker.stop()
            await self.engine.dispose()
            self.tracer_provider.shutdown()

    def check_subscriptions(self) -> None:
        """The consumers registered are exactly the declared ones, in the service's own groups.

        The Kafka topics and ACLs of a cluster are generated from the declaration (deploy/k8s/k8sgen), not from
        the running app: a subscriber registered without being declared would be refused by the broker there,
        and a declared one never registered would hold a grant nobody uses. Failing to build the app makes the
        two one fact.
        """
        if self.consumes is None:
            return
        registered = {(s.contract, s.group_id) for s in self.broker.subscriptions}
        declared = {(cls, consumer_group(self.settings.service_name, cls.topic)) for cls in self.consumes}
        if registered != declared:
            def names(pairs: set[tuple[type[IntegrationEvent], str]]) -> list[str]:
                return sorted(f"{cls.__name__} as {group}" for cls, group in pairs)

            raise RuntimeError(
                f"{self.settings.service_name}'s consumers differ from its declared CONSUMES (its topics.py, from "
                f"which the Kafka ACLs are made): registered but not declared {names(registered - declared)}, "
                f"declared but not registered {names(declared - registered)}"
            )

    def create_app(self, *routers: APIRouter, title: str, description: str = "") -> FastAPI:
        self.check_subscriptions()
        app = TracedFastAPI(tracer_provider=self.tracer_provider, title=title, description=description + OPENAPI_NOTES,
                            version="0.1.0", lifespan=self.lifespan, generate_unique_id_function=operation_id)
        app.state.verifier = self.verifier
        app.state.runtime = self
        for router in routers:
            app.include_router(router)
        self._add_operational_routes(app)
        self._add_middleware(app)
        truthful_openapi(app)
        return app

    def _add_operational_routes(self, app: FastAPI) -> None:
        runtime = self

        @app.get("/health", tags=["operations"], responses={
            200: {"description": "Database and broker answer.", "model": HealthReport},
            503: {"description": "A dependency does not answer; which one is in checks.", "model": HealthReport},
        })
        async def health() -> JSONResponse:
            checks = await runtime.check_health()
            healthy = all(value == "ok" for value in checks.values())
            return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                                status_code=200 if healthy else 503)

        @app.get("/livez", tags=["operations"])
        async def livez() -> dict[str, str]:
            """Liveness: the process serves requests. Dependencies are /health's business."""
            return {"status": "ok"}

        @app.get("/metrics", tags=["operations"], response_class=PrometheusText,
                 responses=media(CONTENT_TYPE_LATEST, "Prometheus text exposition format."))
        async def metrics() -> Response:
            return PrometheusText(generate_latest(runtime.registry))

        @app.get("/asyncapi.json", tags=["operations"])
        async def asyncapi() -> dict[str, Any]:
            """The AsyncAPI document of the topics this service consumes and produces."""
            return asyncapi_document(runtime.settings.service_name, runtime.produces, runtime.broker.subscriptions)

        install_error_handlers(app)

    def _add_middleware(self, app: FastAPI) -> None:
        requests = Counter(
            "microcred_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        latency = Histogram(
            "microcred_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        undocumented = Counter(
            "microcred_http_undocumented_responses",
            "Responses with a status their operation's OpenAPI document does not list (the API and its "
            "document disagree)",
            ["method", "route", "status"], registry=self.registry,
        )
        app.add_middleware(CorrelateAndMeasure, requests=requests, latency=latency, undocumented=undocumented)


class CorrelateAndMeasure:
    """Sets the request's correlation id, counts and times it by route template, and names its server span
    after that template (``http_tracing``).

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs every request
    through an extra task and memory streams, which cost more than the rest of a small request's framework
    overhead together.
    """

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram, undocumented: Counter) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        self.undocumented = undocumented

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"x-correlation-id"), None)
        token = correlation_id_var.set(parse_uuid(header))
        status = 500  # what the server answers if the app raises before starting a response
        # The tracing middleware (outermost, TracedFastAPI) made the request's server span the current one.
        span = trace.get_current_span()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Now: the span ends as the response's last part goes out, before this middleware's finally.
                name_server_span(span, scope)
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception as exc:
            # No response started, so the span is named here too, and the exception recorded: inside
            # ServerErrorMiddleware, whose 500 ends the span before the exception it re-raises reaches the tracing
            # middleware.
            name_server_span(span, scope)
            record_exception(span, exc)
            raise
        finally:
            correlation_id_var.reset(token)
            # The router has written the matched route into the scope by now.
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.requests.labels(scope["method"], template, str(status)).inc()
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - started)
            documented = getattr(route, "documented_statuses", None)
            # 405 belongs to the path, not to an operation (see OPENAPI_NOTES).
            if documented is not None and str(status) not in documented and status != 405:
                self.undocumented.labels(scope["method"], template, str(status)).inc()
                log.warning("%s %s answered %s, which its OpenAPI document does not list",
                            scope["method"], template, status)
