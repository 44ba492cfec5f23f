"""What the HTTP framework costs a service's process per request, around the endpoint.

Issue 22's tenth round: py-spy put about a tenth of submission's CPU in the HTTP stack above its endpoints, and a
microbenchmark found OpenTelemetry's FastAPI instrumentation routing every request a second time to name its span
(``microcred.runtime.http_tracing`` says what replaced it). This builds each service's real app with its real
routes and middleware, as ``run_service`` does, and sends it requests in this process through ASGI (no socket, no
uvicorn, no database: nothing outside the app). Each request is one a player of the pipeline benchmark sends most,
without a token, so the app answers 401 after routing, the middleware, tracing and the authentication dependency,
and before the endpoint's own work: what it measures is the part of every request that is the same whatever the
endpoint does. It measures this process's CPU (``time.process_time``) per request, twice per service:

- untraced: no exporter, so the tracer samples nothing (the benchmark's and ``make up``'s setting);
- traced: the request carries a sampled ``traceparent``, so its spans are recorded, and each is encoded as an
  OTLP exporter would before sending it (the sending left out), as in a deployment that exports its traces.

    python benchmarks/http_request_costs.py [--requests 3000] [--rounds 3]

Prints a table; writes nothing. Compare checkouts by running it from each, alternated: the host's speed drifts.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from microcred.runtime.auth import DevTokenIssuer

# The routes the pipeline's players send most to each service that serves them (benchmarks/results/counts), with
# paths of their shape. Award and catalog serve none of the pipeline's requests.
ROUTES = {
    "submission": ("POST", "/submissions/7b0e2a56-3c1d-4e0b-9a55-0c2f5f1b8e11/evidence/"
                           "1f6c3a4e-8d2b-4c57-a1d0-3e9b7c2f4a60/complete"),
    "review": ("GET", "/reviews/assigned"),
    "licensure": ("GET", "/states/TN/pending-credits"),
}
SAMPLED = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class EncodeOnly(SpanExporter):
    """What an OTLP exporter does to a span before the network: encoded to protobuf, then dropped."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS


def app_of(service: str) -> Any:
    # Only constructed: nothing connects before the app's lifespan starts, which these requests never run.
    app = importlib.import_module(f"microcred.{service}.bootstrap").build_app()
    # Synchronous, so the encoding is measured in this thread (an exporter's batches run on their own).
    app.state.runtime.tracer_provider.add_span_processor(SimpleSpanProcessor(EncodeOnly()))
    return app


async def cpu_ms_per_request(app: Any, method: str, path: str, requests: int, traced: bool) -> float:
    headers = [(b"host", b"benchmark"), (b"accept", b"application/json")]
    if traced:
        headers.append((b"traceparent", SAMPLED))
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def run(times: int) -> None:
        for _ in range(times):
            await app(dict(scope), receive, send)

    await run(200)  # warm: the app's middleware stack is built on the first request
    if set(statuses) != {401}:
        raise SystemExit(f"{method} {path} answered {sorted(set(statuses))}, not 401: the route moved?")
    started = time.process_time()
    await run(requests)
    return (time.process_time() - started) / requests * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    keys = tempfile.TemporaryDirectory()
    os.environ["MICROCRED_AUTH_JWKS_URL"] = DevTokenIssuer(Path(keys.name)).jwks_url
    apps: dict[str, Callable[..., Any]] = {service: app_of(service) for service in ROUTES}
    results: dict[tuple[str, bool], list[float]] = {}

    async def measure() -> None:
        for _ in range(args.rounds):
            for service, (method, path) in ROUTES.items():
                for traced in (False, True):
                    ms = await cpu_ms_per_request(apps[service], method, path, args.requests, traced)
                    results.setdefault((service, traced), []).append(ms)

    asyncio.run(measure())
    print(f"CPU ms per request, median of {args.rounds} rounds of {args.requests} (min-max)")
    print(f"{'service':<12} {'route':<46} {'untraced':>20} {'traced':>20}")
    for service, (method, path) in ROUTES.items():
        cells = []
        for traced in (False, True):
            values = results[(service, traced)]
            cells.append(f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})")
        route = f"{method} {path}"
        print(f"{service:<12} {route[:46]:<46} {cells[0]:>20} {cells[1]:>20}")


if __name__ == "__main__":
    main()
