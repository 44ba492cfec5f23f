"""The server span of a request: named after its route once routed, one span per request, errors recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from microcred.runtime import service as service_module
from microcred.runtime.api import api_router
from microcred.runtime.auth import CurrentPrincipal, DevTokenIssuer, Role
from microcred.runtime.errors import Conflict
from microcred.runtime.testing import recording_tracer_providers, runtime_for_app


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Every span the service records, as a provider with an exporter would record them."""
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(service_module, "create_tracer_provider", recording_tracer_providers(exporter))
    return exporter


@pytest.fixture
def http(tmp_path: Path, exported: InMemorySpanExporter) -> tuple[TestClient, dict[str, str]]:
    issuer = DevTokenIssuer(tmp_path)
    runtime = runtime_for_app(issuer.jwks_url)
    router = api_router()

    @router.get("/things/metrics")
    async def thing_metrics(_: CurrentPrincipal) -> dict[str, int]:
        return {"things": 1}

    @router.post("/things/{thing_id}")
    async def create(thing_id: int, _: CurrentPrincipal) -> dict[str, int]:
        if thing_id > 10:
            raise Conflict("too many things", code="too_many")
        if thing_id == 0:
            raise RuntimeError("a bug")
        return {"thing_id": thing_id}

    # Not entered as a context manager, so the lifespan (database, broker) does not start. An unexpected
    # exception is answered with a 500, not raised into the test.
    client = TestClient(runtime.create_app(router, title="t"), raise_server_exceptions=False)
    return client, {"Authorization": f"Bearer {issuer.mint('u-1', [Role.TEACHER])}"}


def only_span(exported: InMemorySpanExporter) -> ReadableSpan:
    spans = exported.get_finished_spans()
    assert len(spans) == 1, f"one span per request, not {[s.name for s in spans]}"
    return spans[0]


def status_code(span: ReadableSpan) -> Any:
    attributes = span.attributes or {}
    return attributes.get("http.status_code", attributes.get("http.response.status_code"))


def test_a_request_is_one_server_span_named_after_its_route(
    http: tuple[TestClient, dict[str, str]], exported: InMemorySpanExporter
) -> None:
    client, token = http
    assert client.post("/things/3", headers=token).status_code == 200
    span = only_span(exported)
    assert span.kind is SpanKind.SERVER
    assert span.name == "POST /things/{thing_id}"
    assert (span.attributes or {}).get("http.route") == "/things/{thing_id}"
    assert status_code(span) == 200


def test_a_refusal_keeps_the_route_and_its_status(
    http: tuple[TestClient, dict[str, str]], exported: InMemorySpanExporter
) -> None:
    client, token = http
    assert client.post("/things/11", headers=token).status_code == 409
    span = only_span(exported)
    assert span.name == "POST /things/{thing_id}" and status_code(span) == 409
    assert client.post("/things/3").status_code == 401
    assert exported.get_finished_spans()[-1].name == "POST /things/{thing_id}"


def test_an_unexpected_exception_is_recorded_on_the_named_span_with_the_500(
    http: tuple[TestClient, dict[str, str]], exported: InMemorySpanExporter
) -> None:
    client, token = http
    response = client.post("/things/0", headers=token)
    assert response.status_code == 500
    span = only_span(exported)
    assert span.name == "POST /things/{thing_id}"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.attributes.get("exception.type") for e in span.events if e.attributes] == ["RuntimeError"]
    assert status_code(span) == 500


def test_an_unknown_path_is_named_by_its_method_alone_and_probes_are_not_traced(
    http: tuple[TestClient, dict[str, str]], exported: InMemorySpanExporter
) -> None:
    client, _ = http
    assert client.get("/nowhere").status_code == 404
    span = only_span(exported)
    assert span.name == "GET" and "http.route" not in (span.attributes or {})
    exported.clear()
    for probe in ("/livez", "/health", "/metrics"):
        client.get(probe)
    assert exported.get_finished_spans() == ()


def test_a_path_that_only_contains_a_probes_name_is_traced(
    http: tuple[TestClient, dict[str, str]], exported: InMemorySpanExporter
) -> None:
    client, headers = http
    assert client.get("/things/metrics", headers=headers).status_code == 200
    assert only_span(exported).name == "GET /things/metrics"
