"""One trace across services: an HTTP request, its outbox, the relay, and the consumers after it.

Two small services, each a real ``ServiceRuntime`` (its own database schema with outbox and inbox, its own
broker, relay and tracer provider) against the real PostgreSQL and Kafka-protocol broker. Their spans go
to one in-memory exporter, as two services' spans meet in one trace store:

    POST /credits (ledger-front)  -> outbox -> send licensure.credit-posted
      -> process licensure.credit-posted (ledger-back: reverses the credit) -> outbox
      -> send licensure.credit-reversed -> process licensure.credit-reversed (ledger-front)

No platform service consumes either topic, so these services run beside the e2e platform.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, status
from kafka_groups import start_at_log_end
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from microcred.devstack.platform import Platform
from microcred.events import CreditPosted, CreditReversed
from microcred.runtime import service as service_module
from microcred.runtime.consumer import subscribe
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.service import ServiceRuntime
from microcred.runtime.settings import ServiceSettings
from microcred.runtime.testing import recording_tracer_providers
from microcred.runtime.uow import UnitOfWork

pytestmark = pytest.mark.stack

FRONT, BACK = "ledger-front", "ledger-back"


def credit_posted(license_id: uuid.UUID, correlation_id: uuid.UUID) -> CreditPosted:
    return CreditPosted(
        correlation_id=correlation_id, states=("TN",), entry_id=uuid.uuid4(), license_id=license_id,
        award_id=uuid.uuid4(), teacher_id="t-trace", state="TN", amount=Decimal(6), unit="points",
        rule_set_id="TN-example", rule_set_version=1, earned_in_cycle=Decimal(6), required_in_cycle=Decimal(60),
    )


def reversal_of(credit: CreditPosted) -> CreditReversed:
    return CreditReversed(
        correlation_id=credit.correlation_id, causation_id=credit.event_id, states=credit.states,
        entry_id=uuid.uuid4(), reverses_entry_id=credit.entry_id, license_id=credit.license_id,
        award_id=credit.award_id, teacher_id=credit.teacher_id, state=credit.state, amount=-credit.amount,
        unit=credit.unit, reason="revoked", earned_in_cycle=Decimal(0), required_in_cycle=credit.required_in_cycle,
    )


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Every ServiceRuntime built in the test records all its spans into one in-memory exporter."""
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(service_module, "create_tracer_provider", recording_tracer_providers(exporter))
    return exporter


def runtime_for(platform: Platform, name: str, produces: list[type[Any]]) -> ServiceRuntime:
    settings = ServiceSettings(
        service_name=name, database_url=platform.endpoints.database_url("runtime_tests"),
        kafka_bootstrap_servers=platform.endpoints.kafka_bootstrap, auth_jwks_url=platform.tokens.jwks_url,
        consumer_commit_interval_seconds=0.2, consumer_workers_per_topic=1, relay_poll_interval_seconds=0.1,
    )
    schema = name.replace("-", "_")
    return ServiceRuntime(settings, tables=define_messaging_tables(sa.MetaData(schema=schema)), produces=produces)


async def create_schema(runtime: ServiceRuntime) -> None:
    outbox = runtime.tables.outbox
    async with runtime.engine.begin() as connection:
        await connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{outbox.schema}" CASCADE'))
        await connection.execute(sa.text(f'CREATE SCHEMA "{outbox.schema}"'))
        await connection.run_sync(outbox.metadata.create_all)


@pytest.fixture
async def services(platform: Platform, exported: InMemorySpanExporter) -> AsyncIterator[dict[str, Any]]:
    """The two services, started; ``reversed`` is set once the front has handled this test's reversal."""
    front = runtime_for(platform, FRONT, [CreditPosted])
    back = runtime_for(platform, BACK, [CreditReversed])
    mine: set[uuid.UUID] = set()  # the topics hold other tests' records too; each handler skips those
    reversal_seen = asyncio.Event()
    run = uuid.uuid4().hex[:8]
    # Each group starts where its topic ends now (kafka_groups), not behind the history of other tests' records.
    for group, topic in ((f"{BACK}-{run}", CreditPosted.topic), (f"{FRONT}-{run}", CreditReversed.topic)):
        await start_at_log_end(platform.endpoints.kafka_bootstrap, group, topic)

    router = APIRouter()

    @router.post("/credits", status_code=status.HTTP_202_ACCEPTED)
    async def post_credit(license_id: uuid.UUID) -> dict[str, str]:
        credit = credit_posted(license_id, uuid.uuid4())
        mine.add(credit.correlation_id)
        async with front.unit_of_work(UnitOfWork)() as uow:
            uow.publish(credit)
            await uow.commit()
        return {"event_id": str(credit.event_id)}

    @subscribe(back.broker, CreditPosted, group_id=f"{BACK}-{run}")
    async def reverse(event: CreditPosted) -> None:
        if event.correlation_id not in mine:
            return
        async with back.unit_of_work(UnitOfWork)() as uow:
            if await uow.claim(BACK, event.event_id):
                uow.publish(reversal_of(event))
                await uow.commit()

    @subscribe(front.broker, CreditReversed, group_id=f"{FRONT}-{run}")
    async def note_reversal(event: CreditReversed) -> None:
        if event.correlation_id in mine:
            reversal_seen.set()

    app: FastAPI = front.create_app(router, title=FRONT)
    back_app: FastAPI = back.create_app(title=BACK)
    for runtime in (front, back):
        await create_schema(runtime)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(front.lifespan(app))
        await stack.enter_async_context(back.lifespan(back_app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://front")
        )
        yield {"client": client, "reversed": reversal_seen}


def one(spans: list[ReadableSpan], what: str, match: Callable[[ReadableSpan], bool]) -> ReadableSpan:
    found = [span for span in spans if match(span)]
    assert len(found) == 1, f"expected one {what}, found {[s.name for s in found]} among {[s.name for s in spans]}"
    return found[0]


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes.get("service.name"))


async def test_one_trace_runs_from_the_request_through_both_services_and_back(
    services: dict[str, Any], exported: InMemorySpanExporter
) -> None:
    license_id = uuid.uuid4()
    response = await services["client"].post("/credits", params={"license_id": str(license_id)})
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]
    await asyncio.wait_for(services["reversed"].wait(), timeout=60)

    # The process span ends just after its handler returns; give the last one a moment.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spans = list(exported.get_finished_spans())
        if any(s.name == "process licensure.credit-reversed" and service_of(s) == FRONT
               and s.attributes.get("messaging.kafka.message.key") == str(license_id) for s in spans):
            break
        await asyncio.sleep(0.1)

    http = one(spans, "HTTP server span", lambda s: s.kind == SpanKind.SERVER and "/credits" in s.name)
    assert http.name == "POST /credits" and (http.attributes or {}).get("http.route") == "/credits"
    trace_id = http.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]

    send_credit = one(in_trace, "send of the credit", lambda s: s.name == "send licensure.credit-posted")
    process_credit = one(in_trace, "processing of the credit", lambda s: s.name == "process licensure.credit-posted")
    send_reversal = one(in_trace, "send of the reversal", lambda s: s.name == "send licensure.credit-reversed")
    process_reversal = one(in_trace, "processing of the reversal",
                           lambda s: s.name == "process licensure.credit-reversed")

    # Each hop continues the trace: the relay's send is a child of the request that wrote the outbox row, the
    # consumer's process a child of the send (and linked to it, its creation context), and so on back.
    chain = [(http, send_credit), (send_credit, process_credit), (process_credit, send_reversal),
             (send_reversal, process_reversal)]
    for parent, child in chain:
        assert child.parent is not None and child.parent.span_id == parent.context.span_id, (
            f"{child.name} is not a child of {parent.name}"
        )
    for process, send in ((process_credit, send_credit), (process_reversal, send_reversal)):
        assert [link.context.span_id for link in process.links] == [send.context.span_id], (
            f"{process.name} does not link to its message's creation context"
        )

    assert [service_of(s) for s in (http, send_credit, process_credit, send_reversal, process_reversal)] == [
        FRONT, FRONT, BACK, BACK, FRONT,
    ]
    assert [s.kind for s in (send_credit, process_credit)] == [SpanKind.PRODUCER, SpanKind.CONSUMER]

    assert {k: send_credit.attributes.get(k) for k in (
        "messaging.system", "messaging.operation.type", "messaging.operation.name", "messaging.destination.name",
        "messaging.kafka.message.key", "messaging.message.id",
    )} == {
        "messaging.system": "kafka", "messaging.operation.type": "send", "messaging.operation.name": "send",
        "messaging.destination.name": "licensure.credit-posted", "messaging.kafka.message.key": str(license_id),
        "messaging.message.id": event_id,
    }
    attributes = process_credit.attributes or {}
    assert {k: attributes.get(k) for k in (
        "messaging.system", "messaging.operation.type", "messaging.operation.name", "messaging.destination.name",
        "messaging.kafka.message.key", "messaging.message.id",
    )} == {
        "messaging.system": "kafka", "messaging.operation.type": "process", "messaging.operation.name": "process",
        "messaging.destination.name": "licensure.credit-posted", "messaging.kafka.message.key": str(license_id),
        "messaging.message.id": event_id,
    }
    assert str(attributes.get("messaging.consumer.group.name", "")).startswith(f"{BACK}-"), attributes
    assert str(attributes.get("messaging.consumer.group.name")).endswith(".licensure.credit-posted")
    assert isinstance(attributes.get("messaging.kafka.offset"), int)
    assert str(attributes.get("messaging.destination.partition.id", "")).isdigit()
