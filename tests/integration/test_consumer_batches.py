"""A consumer's batches (MICROCRED_CONSUMER_BATCH_MAX_RECORDS, runtime.batches): one partition's fetched records
in one transaction, against the real broker and database.

Every event here has the same key, so they share a partition and are published before the consumer starts: its
first fetch brings several at once. The handler writes a row per event with the id of its transaction, so a
test sees the order of the effects, that each is there once, and which ones shared a transaction.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from kafka_groups import every_partition_assigned, start_at_log_end
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from microcred.devstack.platform import Platform
from microcred.events import CreditPosted
from microcred.runtime.broker import create_broker
from microcred.runtime.consumer import ConsumerPolicy, subscribe
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.settings import ServiceSettings
from microcred.runtime.telemetry import current_trace_headers, trace_id_of
from microcred.runtime.uow import UnitOfWork

pytestmark = pytest.mark.stack

metadata = sa.MetaData()
tables = define_messaging_tables(metadata)
effects = sa.Table(
    "batch_effects", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run", sa.Text, nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("txid", sa.BigInteger, nullable=False),
)


def credit(license_id: uuid.UUID) -> CreditPosted:
    return CreditPosted(
        correlation_id=uuid.uuid4(), states=("TN",), entry_id=uuid.uuid4(), license_id=license_id,
        award_id=uuid.uuid4(), teacher_id="t-1", state="TN", amount=Decimal(6), unit="points",
        rule_set_id="TN-example", rule_set_version=1, earned_in_cycle=Decimal(6), required_in_cycle=Decimal(60),
    )


async def produce(bootstrap: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(CreditPosted.topic, value, key=key)
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def engine(platform: Platform) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(platform.endpoints.database_url("runtime_tests"))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)  # the inbox may be there already: create_all skips it
    yield engine
    await engine.dispose()


def recording(engine: AsyncEngine, run: str, ours: set[uuid.UUID], failing: uuid.UUID | None = None,
              fail_times: int = 0, thrown_away: uuid.UUID | None = None) -> Callable[[CreditPosted], Awaitable[None]]:
    """Writes a row per event of ours with its transaction's id, after claiming it; fails on the first
    ``fail_times`` deliveries of ``failing`` (a bug of the handler's own, not an outage); leaves the unit of
    work of ``thrown_away`` without committing (a handler that decides to roll back its work)."""
    factory = async_sessionmaker(engine, expire_on_commit=False)
    failures = {"left": fail_times}

    async def handle(event: CreditPosted) -> None:
        if event.event_id not in ours:
            return  # another test's event on the shared topic
        async with UnitOfWork(factory, tables, "batch-test") as uow:
            if not await uow.claim(run, event.event_id):
                return
            txid = await uow.session.scalar(sa.text("SELECT txid_current()"))
            await uow.session.execute(effects.insert().values(run=run, event_id=event.event_id, txid=txid))
            if event.event_id == failing and failures["left"] > 0:
                failures["left"] -= 1
                raise ValueError("a bug in the middle of the batch")
            if event.event_id == thrown_away:
                return
            await uow.commit()

    return handle


async def new_run(platform: Platform) -> str:
    """A run's name, also its consumer group's, which starts at the topic's current end (``kafka_groups``): the
    batches hold this test's events alone, not the history other tests left on the shared topic."""
    run = f"batch-{uuid.uuid4().hex[:8]}"
    await start_at_log_end(platform.endpoints.kafka_bootstrap, run, CreditPosted.topic)
    return run


async def run_batches(platform: Platform, run: str, events: list[CreditPosted],
                      handler: Callable[[CreditPosted], Awaitable[None]], expected: int,
                      engine: AsyncEngine, tracer_provider: TracerProvider | None = None,
                      ) -> tuple[list[tuple[uuid.UUID, int]], ConsumerPolicy]:
    """Publishes ``events`` (in order, one key), consumes them in batches until ``expected`` rows are there,
    and gives the rows in the order they were written, and the consumer's policy (its counters)."""
    await produce(platform.endpoints.kafka_bootstrap, [(event.record_key(), event.to_json()) for event in events])
    settings = ServiceSettings(service_name=run, kafka_bootstrap_servers=platform.endpoints.kafka_bootstrap,
                               consumer_max_attempts=3, consumer_retry_base_seconds=0.05,
                               consumer_commit_interval_seconds=0.2, consumer_workers_per_topic=1,
                               consumer_batch_max_records=50)
    broker, policy = create_broker(settings, tracer_provider=tracer_provider or TracerProvider(),
                                   registry=CollectorRegistry())
    subscribe(broker, CreditPosted, group_id=run)(handler)
    await broker.start()
    try:
        await every_partition_assigned(broker, CreditPosted.topic)
        async def written() -> list[tuple[uuid.UUID, int]]:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    sa.select(effects.c.event_id, effects.c.txid).where(effects.c.run == run).order_by(effects.c.id))
                return [(row.event_id, row.txid) for row in rows]

        async def enough() -> bool:
            return len(await written()) >= expected

        await eventually(enough, f"{expected} effects")
        rows = await written()
    finally:
        await broker.stop()
    return rows, policy


def counted(policy: ConsumerPolicy, run: str, name: str, **labels: str) -> float:
    return policy.registry.get_sample_value(name, labels) or 0.0


async def test_a_batch_is_one_transaction_in_partition_order_and_a_duplicate_inside_it_is_skipped(
    platform: Platform, engine: AsyncEngine
) -> None:
    run = await new_run(platform)
    license_id = uuid.uuid4()
    events = [credit(license_id) for _ in range(10)]
    # The fifth event delivered twice in a row (a producer's retry): the inbox claim inside the batch refuses it.
    published = [*events[:5], events[4], *events[5:]]
    rows, policy = await run_batches(platform, run, published, recording(engine, run, {e.event_id for e in events}),
                                     len(events), engine)

    assert [event_id for event_id, _ in rows] == [e.event_id for e in events]  # each once, in the partition's order
    assert len({txid for _, txid in rows}) < len(rows), "no two events shared a transaction: no batch was made"
    topic, group = CreditPosted.topic, f"{run}.{CreditPosted.topic}"
    assert counted(policy, run, "microcred_consumer_batch_fallbacks_total", topic=topic) == 0
    assert counted(policy, run, "microcred_consumer_batch_records_count", topic=topic) >= 1
    # Every event the group met is finished with; ours include one duplicate.
    assert counted(policy, run, "microcred_consumer_messages_total", group=group, topic=topic,
                   outcome="duplicate") == 1


async def test_a_failure_in_the_middle_of_a_batch_falls_back_to_one_transaction_per_message_losing_nothing(
    platform: Platform, engine: AsyncEngine
) -> None:
    run = await new_run(platform)
    license_id = uuid.uuid4()
    events = [credit(license_id) for _ in range(10)]
    # Fails in the batch, then once more on its own: retried as today, and handled on the next attempt.
    handler = recording(engine, run, {e.event_id for e in events}, failing=events[6].event_id, fail_times=2)
    rows, policy = await run_batches(platform, run, events, handler, len(events), engine)

    assert [event_id for event_id, _ in rows] == [e.event_id for e in events]  # each once, in order
    topic = CreditPosted.topic
    assert counted(policy, run, "microcred_consumer_batch_fallbacks_total", topic=topic) >= 1
    assert counted(policy, run, "microcred_consumer_retries_total", topic=topic) == 1
    assert counted(policy, run, "microcred_consumer_dead_lettered_total", topic=topic, kind="handler-error") == 0


async def test_a_message_that_always_fails_in_a_batch_is_dead_lettered_as_today_and_the_others_handled_once(
    platform: Platform, engine: AsyncEngine
) -> None:
    run = await new_run(platform)
    license_id = uuid.uuid4()
    events = [credit(license_id) for _ in range(8)]
    handler = recording(engine, run, {e.event_id for e in events}, failing=events[3].event_id, fail_times=1000)
    rows, policy = await run_batches(platform, run, events, handler, len(events) - 1, engine)

    assert [event_id for event_id, _ in rows] == [e.event_id for i, e in enumerate(events) if i != 3]
    topic = CreditPosted.topic

    async def dead_lettered() -> bool:
        return counted(policy, run, "microcred_consumer_dead_lettered_total", topic=topic, kind="handler-error") == 1

    await eventually(dead_lettered, "the failing event's dead letter")
    # max_attempts (3) in its own transaction after the batch failed: the budget is today's.
    assert counted(policy, run, "microcred_consumer_retries_total", topic=topic) == 3


async def test_an_event_of_a_batch_already_in_the_inbox_is_skipped_and_the_rest_handled_once(
    platform: Platform, engine: AsyncEngine
) -> None:
    run = await new_run(platform)
    license_id = uuid.uuid4()
    events = [credit(license_id) for _ in range(8)]
    # Handled before a crash whose offset commit never went out: the batch's one inbox INSERT finds it there.
    async with engine.begin() as connection:
        await connection.execute(tables.inbox.insert().values(consumer=run, event_id=events[2].event_id))
    rows, policy = await run_batches(platform, run, events, recording(engine, run, {e.event_id for e in events}),
                                     len(events) - 1, engine)

    assert [event_id for event_id, _ in rows] == [e.event_id for i, e in enumerate(events) if i != 2]
    topic, group = CreditPosted.topic, f"{run}.{CreditPosted.topic}"
    assert counted(policy, run, "microcred_consumer_batch_fallbacks_total", topic=topic) >= 1
    assert counted(policy, run, "microcred_consumer_messages_total", group=group, topic=topic,
                   outcome="duplicate") == 1


async def test_a_handler_that_rolls_back_its_work_inside_a_batch_has_it_rolled_back_and_the_rest_kept(
    platform: Platform, engine: AsyncEngine
) -> None:
    run = await new_run(platform)
    license_id = uuid.uuid4()
    events = [credit(license_id) for _ in range(8)]
    handler = recording(engine, run, {e.event_id for e in events}, thrown_away=events[4].event_id)
    rows, policy = await run_batches(platform, run, events, handler, len(events) - 1, engine)

    # As without batches: the thrown-away work and its claim are gone, everything else is there once.
    assert [event_id for event_id, _ in rows] == [e.event_id for i, e in enumerate(events) if i != 4]
    assert counted(policy, run, "microcred_consumer_batch_fallbacks_total", topic=CreditPosted.topic) >= 1
    async with engine.connect() as connection:
        claimed = await connection.scalar(sa.select(sa.func.count()).select_from(tables.inbox).where(
            tables.inbox.c.consumer == run, tables.inbox.c.event_id == events[4].event_id))
    assert claimed == 0


async def test_each_record_of_a_batch_is_handled_in_its_own_trace(platform: Platform, engine: AsyncEngine) -> None:
    """Each record a batch takes past FastStream's middlewares gets its own process span in the trace that produced
    it, so the events its handler writes continue that trace, not the first record's."""
    run = await new_run(platform)
    license_id = uuid.uuid4()
    events = [credit(license_id) for _ in range(8)]
    traces = {event.event_id: uuid.uuid4().hex for event in events}
    seen: dict[uuid.UUID, str] = {}
    published: dict[uuid.UUID, uuid.UUID] = {}  # each event of ours -> the event its handler wrote
    factory = async_sessionmaker(engine, expire_on_commit=False)

    async def handle(event: CreditPosted) -> None:
        if event.event_id not in traces:  # another test's event on the shared topic
            return
        seen[event.event_id] = trace_id_of(current_trace_headers()["traceparent"])
        async with UnitOfWork(factory, tables, "batch-test") as uow:
            if not await uow.claim(run, event.event_id):
                return
            txid = await uow.session.scalar(sa.text("SELECT txid_current()"))
            await uow.session.execute(effects.insert().values(run=run, event_id=event.event_id, txid=txid))
            follow = credit(license_id)
            published[event.event_id] = follow.event_id
            uow.publish(follow)
            await uow.commit()

    producer = AIOKafkaProducer(bootstrap_servers=platform.endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            traceparent = f"00-{traces[event.event_id]}-{uuid.uuid4().hex[:16]}-01"
            await producer.send_and_wait(CreditPosted.topic, event.to_json(), key=event.record_key(),
                                         headers=[("traceparent", traceparent.encode())])
    finally:
        await producer.stop()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    rows, _ = await run_batches(platform, run, [], handle, len(events), engine, provider)

    assert len({txid for _, txid in rows}) < len(rows), "no two events shared a transaction: no batch was made"
    assert seen == traces
    processed = sorted(span.context.trace_id for span in exporter.get_finished_spans()
                       if span.name == f"process {CreditPosted.topic}" and span.context.trace_id in
                       {int(trace, 16) for trace in traces.values()})
    assert processed == sorted(int(trace, 16) for trace in traces.values()), "a record without its process span"
    # What each handler wrote carries its own record's trace, though the batch committed it with the others.
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(tables.outbox.c.event_id, tables.outbox.c.headers)
                                        .where(tables.outbox.c.event_id.in_(published.values())))
        written = {row.event_id: trace_id_of(row.headers["traceparent"]) for row in rows}
    assert {cause: written[follow] for cause, follow in published.items()} == traces
