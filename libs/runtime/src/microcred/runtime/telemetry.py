"""OpenTelemetry setup and trace-context hand-off through the outbox.

An event is written in the request's transaction but published later by the relay, in another task.
So the trace context is captured into the outbox row's headers at write time and re-attached by the
relay at publish time: the producer span, and every consumer after it, stay in the original trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def create_tracer_provider(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    # With nowhere to send spans, recording them is wasted work.
    # Unsampled spans still carry trace ids, so traceparent keeps flowing through the outbox and the hops,
    # and an upstream caller's sampling decision is still followed.
    sampler = sampling.ParentBased(sampling.ALWAYS_ON if otlp_endpoint else sampling.ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=sampler)
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces"))
        )
    return provider


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def attached_trace(headers: Mapping[str, str]) -> Iterator[None]:
    token = context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        context.detach(token)


def trace_id_of(traceparent: str) -> str:
    """The trace id part of a W3C traceparent header."""
    return traceparent.split("-")[1]


__all__ = ["attached_trace", "create_tracer_provider", "current_trace_headers", "trace", "trace_id_of"]
