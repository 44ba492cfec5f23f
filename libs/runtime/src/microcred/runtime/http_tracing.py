"""The HTTP server span of every request, from OpenTelemetry's ASGI middleware.

Not ``FastAPIInstrumentor``: before the app runs it names the span after the route, found by matching the
request against every route of the app in turn, a second routing of each request beside the router's own.
That was about a third of the framework's work on a request (0.07-0.13 of 0.25-0.33 CPU-ms, measured with
``benchmarks/http_request_costs.py``), paid whether the span is sampled or not. Here the span starts with the
method as its name, as the HTTP semantic conventions allow until the route is known, and
``CorrelateAndMeasure``, which learns the route from the router, names it ``{method} {route}`` and sets
``http.route`` before the response starts (:func:`name_server_span`).

The internal ``http send`` and ``http receive`` spans the middleware would open around every ASGI message
are left out: two or three spans more per request that said nothing the server span's timing does not.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.http import sanitize_method
from starlette.types import ASGIApp, Scope

# Probes and scrapes: frequent, and nothing an operator follows in a trace. The middleware searches each of its
# comma-separated regular expressions anywhere in the request's URL (scheme, host and path), so the paths are
# anchored: "health" alone would also leave untraced any path containing it (a route /healthcare/{id}, say).
UNTRACED_PATHS = r"^[a-z]+://[^/]*/(?:health|livez|metrics)$"
HTTP_ROUTE = "http.route"


def _method_of(scope: Scope) -> str:
    method = sanitize_method(str(scope.get("method", "")).strip())
    return "HTTP" if method == "_OTHER" else method


def _span_before_routing(scope: Scope) -> tuple[str, dict[str, Any]]:
    return _method_of(scope), {}


def name_server_span(span: trace.Span, scope: Scope) -> None:
    """Name a request's server span after its route template, once the router has written it into the scope.

    A no-op for a span that is not recorded (not sampled, or already ended), which is most of them without
    an exporter, and for a path no route matched."""
    route: str | None = getattr(scope.get("route"), "path", None)
    if route is None or not span.is_recording():
        return
    span.update_name(f"{_method_of(scope)} {route}")
    span.set_attribute(HTTP_ROUTE, route)


def record_exception(span: trace.Span, exc: Exception) -> None:
    """Mark the span failed by ``exc``, which no exception handler turned into a response."""
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


class TracedFastAPI(FastAPI):
    """A FastAPI app whose outermost layer is the tracing middleware.

    Outside Starlette's ServerErrorMiddleware, as FastAPIInstrumentor places it, so the span carries the 500
    that middleware answers for an exception (``CorrelateAndMeasure`` records the exception itself).
    """

    def __init__(self, *, tracer_provider: TracerProvider, **kwargs: Any) -> None:
        self.tracer_provider = tracer_provider
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return OpenTelemetryMiddleware(
            super().build_middleware_stack(),
            excluded_urls=UNTRACED_PATHS,
            default_span_details=_span_before_routing,
            tracer_provider=self.tracer_provider,
            exclude_spans=["receive", "send"],
        )


__all__ = ["HTTP_ROUTE", "TracedFastAPI", "name_server_span", "record_exception"]
