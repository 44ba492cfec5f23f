"""Reliable messaging in the runtime, against the real PostgreSQL and Kafka-protocol broker.

A tiny service lives here: one table of counters, the runtime's outbox/inbox tables, a broker built
by ``create_broker`` and a handler subscribed with ``subscribe``. Events are ``CreditPosted`` (no
service of the platform consumes that topic, so these tests run beside the e2e platform).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka_groups import every_partition_assigned, start_at_log_end
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from microcred.devstack.platform import Platform
from microcred.events import CreditPosted, dead_letter_topic
from microcred.runtime import dead_letters
from microcred.runtime.broker import create_broker, declare_publishers
from microcred.runtime.consumer import subscribe
from microcred.runtime.dead_letters import read_dead_letters
from microcred.runtime.lag import ConsumerLagMonitor
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.offsets import LogEnds
from microcred.runtime.offsets import committed_offsets as read_committed
from microcred.runtime.relay import OutboxRelay
from microcred.runtime.settings import KafkaSettings, ServiceSettings
from microcred.runtime.uow import UnitOfWork

pytestmark = pytest.mark.stack

metadata = sa.MetaData()
tables = define_messaging_tables(metadata)
counters = sa.Table("counters", metadata, sa.Column("name", sa.Text, primary_key=True),
                    sa.Column("value", sa.Integer, nullable=False))


def credit(license_id: uuid.UUID, event_id: uuid.UUID | None = None) -> CreditPosted:
    return CreditPosted(
        event_id=event_id or uuid.uuid4(), correlation_id=uuid.uuid4(), states=("TN",), entry_id=uuid.uuid4(),
        license_id=license_id, award_id=uuid.uuid4(), teacher_id="t-1", state="TN", amount=Decimal(6),
        unit="points", rule_set_id="TN-example", rule_set_version=1, earned_in_cycle=Decimal(6),
        required_in_cycle=Decimal(60),
    )


@pytest.fixture(scope="module")
async def engine(platform: Platform) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(platform.endpoints.database_url("runtime_tests"))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def settings_for(platform: Platform, name: str, workers: int = 3) -> ServiceSettings:
    return ServiceSettings(service_name=name, kafka_bootstrap_servers=platform.endpoints.kafka_bootstrap,
                           consumer_max_attempts=3, consumer_retry_base_seconds=0.05,
                           consumer_commit_interval_seconds=0.2, consumer_workers_per_topic=workers)


async def count(engine: AsyncEngine, name: str) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(sa.select(counters.c.value).where(counters.c.name == name)) or 0)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, match: Callable[[Any], bool], count_: int,
                  timeout: float = 30.0) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"check-{uuid.uuid4()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count_ and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [r for r in records if match(r)]
    finally:
        await consumer.stop()
    return found


def counting_handler(engine: AsyncEngine, consumer: str, fail_times: int = 0,
                     error: type[Exception] = ConnectionError) -> Callable[[CreditPosted], Awaitable[None]]:
    """Counts each event's license in one transaction with its inbox row; may fail first."""
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    failures = {"left": fail_times}

    async def handle(event: CreditPosted) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise error("simulated failure")
        async with UnitOfWork(session_factory, tables, "test") as uow:
            if not await uow.claim(consumer, event.event_id):
                return
            statement = sa.dialects.postgresql.insert(counters).values(name=str(event.license_id), value=1)
            await uow.session.execute(statement.on_conflict_do_update(
                index_elements=["name"], set_={"value": counters.c.value + 1}))
            await uow.commit()

    return handle


async def new_group(platform: Platform, prefix: str) -> str:
    """A consumer group of this test's own, starting at the topic's current end (``kafka_groups``): it handles the
    records produced after this, not the history other tests left on the shared topic."""
    group = f"{prefix}-{uuid.uuid4().hex[:6]}"
    await start_at_log_end(platform.endpoints.kafka_bootstrap, group, CreditPosted.topic)
    return group


async def run_consumer(platform: Platform, group: str, handler: Callable[[CreditPosted], Awaitable[None]],
                       workers: int = 3) -> Any:
    broker, _ = create_broker(settings_for(platform, group, workers), tracer_provider=TracerProvider(),
                              registry=CollectorRegistry())
    subscribe(broker, CreditPosted, group_id=group)(handler)
    await broker.start()
    try:
        await every_partition_assigned(broker, CreditPosted.topic)
    except BaseException:
        await broker.stop()
        raise
    return broker


async def test_duplicate_delivery_changes_nothing(platform: Platform, engine: AsyncEngine) -> None:
    group = await new_group(platform, "dup")
    license_id, event_id = uuid.uuid4(), uuid.uuid4()
    event = credit(license_id, event_id)
    await produce(platform.endpoints.kafka_bootstrap, CreditPosted.topic,
                  [(event.record_key(), event.to_json()), (event.record_key(), event.to_json())])
    marker = credit(license_id)  # a later, distinct event on the same key proves both copies were consumed
    await produce(platform.endpoints.kafka_bootstrap, CreditPosted.topic, [(marker.record_key(), marker.to_json())])
    broker = await run_consumer(platform, group, counting_handler(engine, group))
    try:
        await eventually(lambda: _equals(count(engine, str(license_id)), 2), "both distinct events")
        await asyncio.sleep(1.0)
        assert await count(engine, str(license_id)) == 2, "the duplicate delivery was applied twice"
    finally:
        await broker.stop()


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_rolled_back_event_is_never_published_and_a_failed_publish_is_retried(
    platform: Platform, engine: AsyncEngine
) -> None:
    # What a crash between a write and its publish does is shown with real processes in test_faults.py
    # (kill -9 of PostgreSQL and of a service mid-flow); this keeps what only an in-process relay shows.
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    committed, rolled_back = credit(uuid.uuid4()), credit(uuid.uuid4())
    async with UnitOfWork(session_factory, tables, "test") as uow:
        uow.publish(committed)
        await uow.commit()
    async with UnitOfWork(session_factory, tables, "test") as uow:
        uow.publish(rolled_back)  # the block ends without commit(): as if the request failed
    # A relay publishes what was committed, even though its first attempt fails on the broker side.
    broker, _ = create_broker(settings_for(platform, "relay-test"), tracer_provider=TracerProvider(),
                              registry=CollectorRegistry())
    real_publish = declare_publishers(broker, [CreditPosted])
    attempts = {"n": 0}

    async def flaky_publish(topic: str, key: bytes, value: bytes, headers: Any) -> Any:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise ConnectionError("broker went away")
        return await real_publish(topic, key, value, headers)

    relay = OutboxRelay(session_factory, tables, flaky_publish, service="relay-test",
                        registry=CollectorRegistry(), poll_interval=0.1)
    await broker.start()
    task = asyncio.create_task(relay.run())
    try:
        async def published() -> bool:
            async with engine.connect() as connection:
                return bool(await connection.scalar(sa.select(tables.outbox.c.published_at).where(
                    tables.outbox.c.event_id == committed.event_id)))
        await eventually(published, "the relay to publish the committed event")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await broker.stop()
    ids = {committed.event_id, rolled_back.event_id}
    seen = await consume(platform.endpoints.kafka_bootstrap, CreditPosted.topic,
                         lambda r: uuid.UUID(json.loads(r.value)["event_id"]) in ids, 2, timeout=8)
    assert [json.loads(r.value)["event_id"] for r in seen] == [str(committed.event_id)]
    assert dict(seen[0].headers)["ce_id"] == str(committed.event_id).encode()
    async with engine.connect() as connection:
        assert await connection.scalar(sa.select(sa.func.count()).select_from(tables.outbox).where(
            tables.outbox.c.event_id == rolled_back.event_id)) == 0


async def test_poison_message_lands_in_dead_letter_topic_and_does_not_block_partition(
    platform: Platform, engine: AsyncEngine
) -> None:
    group = await new_group(platform, "poison")
    license_id = uuid.uuid4()
    key = str(license_id).encode()  # same key: same partition, behind the poison
    unknown_version = json.loads(credit(license_id).to_json()) | {"event_version": 99}
    invalid = json.loads(credit(license_id).to_json()) | {"amount": "lots"}
    good = credit(license_id)
    await produce(platform.endpoints.kafka_bootstrap, CreditPosted.topic, [
        (key, b"{not json"), (key, json.dumps(unknown_version).encode()), (key, json.dumps(invalid).encode()),
        (key, good.to_json())])
    broker = await run_consumer(platform, group, counting_handler(engine, group))
    try:
        await eventually(lambda: _equals(count(engine, str(license_id)), 1), "the good event behind the poison")
    finally:
        await broker.stop()
    dead = await consume(platform.endpoints.kafka_bootstrap, dead_letter_topic(CreditPosted.topic),
                         lambda r: r.key == key and dict(r.headers).get("dlt-consumer") == group.encode(), 3)
    reasons = [dict(r.headers)["dlt-reason"].decode() for r in dead]
    assert len(reasons) == 3
    assert "not JSON" in reasons[0] and "v99" in reasons[1] and "amount" in reasons[2]
    assert all(dict(r.headers)["dlt-original-topic"] == CreditPosted.topic.encode() for r in dead)


async def committed_offsets(bootstrap: str, group: str) -> tuple[dict[Any, int], dict[Any, int]]:
    """(committed offset, real end offset) per partition of the topic for ``subscribe``'s group of ``group``,
    read by a member that never joins the group."""
    async with LogEnds(bootstrap) as log_ends:
        ends = await log_ends.read(await log_ends.partitions([CreditPosted.topic]))
    return await read_committed(bootstrap, f"{group}.{CreditPosted.topic}", ends), ends


async def test_offsets_are_committed_only_after_handling_and_a_restart_resumes_there(
    platform: Platform, engine: AsyncEngine
) -> None:
    bootstrap = platform.endpoints.kafka_bootstrap
    group = await new_group(platform, "commits")
    gate, seen = asyncio.Event(), []
    held = credit(uuid.uuid4())
    handler = counting_handler(engine, group)

    async def waits_for_the_gate(event: CreditPosted) -> None:
        seen.append(event.event_id)
        if event.event_id == held.event_id:
            await gate.wait()
        await handler(event)

    await produce(bootstrap, CreditPosted.topic, [(held.record_key(), held.to_json())])
    broker = await run_consumer(platform, group, waits_for_the_gate)
    try:
        await eventually(lambda: _true(held.event_id in seen), "the held event to reach its handler")
        await asyncio.sleep(1.0)  # several commit intervals while the handler has not returned
        committed, ends = await committed_offsets(bootstrap, group)
        held_partition = next(tp for tp, end in ends.items() if end and committed[tp] < end)
        assert committed[held_partition] < ends[held_partition], "committed past a message still in its handler"
        gate.set()

        async def all_committed() -> bool:
            done, now_ends = await committed_offsets(bootstrap, group)
            return all(done[tp] >= end for tp, end in now_ends.items())

        await eventually(all_committed, "every handled offset to be committed")
    finally:
        await broker.stop()

    # A consumer of the same group started later reads only what came after: nothing handled comes again.
    later = [credit(uuid.uuid4()) for _ in range(3)]
    await produce(bootstrap, CreditPosted.topic, [(e.record_key(), e.to_json()) for e in later])
    seen.clear()
    broker = await run_consumer(platform, group, waits_for_the_gate)
    try:
        await eventually(lambda: _true({e.event_id for e in later} <= set(seen)), "the later events")
        assert held.event_id not in seen and len(seen) == len(later), "handled messages were delivered again"
    finally:
        await broker.stop()


async def _true(value: bool) -> bool:
    return value


async def test_partitions_proceed_side_by_side_and_each_keeps_its_order(platform: Platform) -> None:
    """With a consumer per partition, a handler that waits holds only its own partition: the others are
    handled meanwhile, and nothing on the waiting partition overtakes the message in its handler."""
    bootstrap = platform.endpoints.kafka_bootstrap
    group = await new_group(platform, "workers")
    gate, entered, handled = asyncio.Event(), asyncio.Event(), []
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    broker = None
    try:
        partitions = sorted(await producer.partitions_for(CreditPosted.topic))
        assert len(partitions) >= 3, "the dev stack creates every topic with 3 partitions"
        licenses = {p: uuid.uuid4() for p in partitions[:3]}  # one key per partition, four events on each
        streams = {p: [credit(license_id) for _ in range(4)] for p, license_id in licenses.items()}
        held_partition, *other_partitions = streams
        held = streams[held_partition][0]

        async def record(event: CreditPosted) -> None:
            if event.event_id == held.event_id:
                entered.set()
                await gate.wait()
            handled.append(event.event_id)

        async def send(p: int, event: CreditPosted) -> None:
            await producer.send_and_wait(CreditPosted.topic, event.to_json(), key=event.record_key(), partition=p)

        broker = await run_consumer(platform, group, record, workers=3)
        # Everything else is produced only once the held message is in its handler, so the other partitions'
        # messages can only be handled by consumers that are not waiting on it.
        await send(held_partition, held)
        await asyncio.wait_for(entered.wait(), timeout=45)
        for p, events in streams.items():
            for event in events:
                if event is not held:
                    await send(p, event)
        others = {e.event_id for p in other_partitions for e in streams[p]}
        await eventually(lambda: _true(others <= set(handled)), "the other partitions, while one handler waits")
        assert not {e.event_id for e in streams[held_partition]} & set(handled), \
            "a message overtook the one still in its partition's handler"
        gate.set()
        everything = {e.event_id for events in streams.values() for e in events}
        await eventually(lambda: _true(everything <= set(handled)), "the held partition, once released")
    finally:
        gate.set()
        await producer.stop()
        if broker is not None:
            await broker.stop()
    first_seen = {event_id: handled.index(event_id) for event_id in set(handled)}
    for events in streams.values():
        positions = [first_seen[e.event_id] for e in events]
        assert positions == sorted(positions), "a partition's events were handled out of order"


async def test_transient_failure_is_retried_until_it_succeeds(platform: Platform, engine: AsyncEngine) -> None:
    group = await new_group(platform, "transient")
    event = credit(uuid.uuid4())
    await produce(platform.endpoints.kafka_bootstrap, CreditPosted.topic, [(event.record_key(), event.to_json())])
    # More failures than consumer_max_attempts: transient errors are never dead-lettered.
    broker = await run_consumer(platform, group, counting_handler(engine, group, fail_times=5))
    try:
        await eventually(lambda: _equals(count(engine, str(event.license_id)), 1), "the retried event")
    finally:
        await broker.stop()


async def test_handler_bug_is_dead_lettered_after_max_attempts(platform: Platform, engine: AsyncEngine) -> None:
    group = await new_group(platform, "bug")
    bad, good = credit(uuid.uuid4()), credit(uuid.uuid4())
    bad_key = bad.record_key()
    handler = counting_handler(engine, group)

    async def buggy(event: CreditPosted) -> None:
        if event.event_id == bad.event_id:
            raise KeyError("a bug, not an outage")
        await handler(event)

    await produce(platform.endpoints.kafka_bootstrap, CreditPosted.topic,
                  [(bad_key, bad.to_json()), (good.record_key(), good.to_json())])
    broker = await run_consumer(platform, group, buggy)
    try:
        await eventually(lambda: _equals(count(engine, str(good.license_id)), 1), "the event after the bug")
        # The two events sit on different partitions, so the good one may finish while the bad one is
        # still being retried: read the dead letter before stopping the consumer that writes it.
        dead = await consume(platform.endpoints.kafka_bootstrap, dead_letter_topic(CreditPosted.topic),
                             lambda r: r.key == bad_key and dict(r.headers).get("dlt-consumer") == group.encode(), 1)
    finally:
        await broker.stop()
    assert dead, "the failing event never reached the dead-letter topic"
    assert "failed 3 times: KeyError" in dict(dead[0].headers)["dlt-reason"].decode()


async def test_relay_purges_published_rows_past_retention_but_never_unsent_ones(
    platform: Platform, engine: AsyncEngine
) -> None:
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    old_published, old_unsent = credit(uuid.uuid4()), credit(uuid.uuid4())
    async with UnitOfWork(session_factory, tables, "test") as uow:
        uow.publish(old_published, old_unsent)
        await uow.commit()
    async with engine.begin() as connection:
        outbox = tables.outbox
        await connection.execute(outbox.update().where(outbox.c.event_id == old_published.event_id)
                                 .values(published_at=sa.func.now() - sa.text("interval '2 days'")))
    relay = OutboxRelay(session_factory, tables, declare_publishers(create_broker(
        settings_for(platform, "purge-test"), tracer_provider=TracerProvider(), registry=CollectorRegistry())[0],
        [CreditPosted]), service="purge-test", registry=CollectorRegistry(), retention=timedelta(days=1))
    await relay.purge_published()
    async with engine.connect() as connection:
        remaining = set(await connection.scalars(sa.select(tables.outbox.c.event_id).where(
            tables.outbox.c.event_id.in_([old_published.event_id, old_unsent.event_id]))))
    assert remaining == {old_unsent.event_id}
    async with engine.begin() as connection:  # leave nothing unsent for the other tests' relays
        await connection.execute(tables.outbox.delete().where(tables.outbox.c.event_id == old_unsent.event_id))


async def test_a_relay_publishes_nothing_while_another_replicas_relay_holds_the_lock(
    platform: Platform, engine: AsyncEngine
) -> None:
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    event = credit(uuid.uuid4())
    async with UnitOfWork(session_factory, tables, "test") as uow:
        uow.publish(event)
        await uow.commit()
    sent: list[str] = []

    async def publish(topic: str, key: bytes, value: bytes, headers: Any) -> Any:
        sent.append(json.loads(value)["event_id"])
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    relay = OutboxRelay(session_factory, tables, publish, service="lock-test", registry=CollectorRegistry())
    async with engine.connect() as other_replica, other_replica.begin():
        await other_replica.execute(sa.select(sa.func.pg_advisory_xact_lock(
            zlib.crc32(b"microcred-outbox-relay:lock-test"))))
        assert await relay.publish_pending() == 0 and sent == []
    assert await relay.publish_pending() >= 1 and str(event.event_id) in sent
    async with engine.connect() as connection:
        assert await connection.scalar(sa.select(tables.outbox.c.published_at).where(
            tables.outbox.c.event_id == event.event_id)) is not None


def recorder(sent: list[tuple[str, str]], name: str, gate: asyncio.Event | None = None) -> Any:
    """A publish that notes (relay, event id) in call order and acknowledges at once, or once ``gate`` opens."""

    async def publish(topic: str, key: bytes, value: bytes, headers: Any) -> Any:
        sent.append((name, json.loads(value)["event_id"]))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if gate is None:
            done.set_result(None)
        else:
            gate_waiter = asyncio.create_task(gate.wait())
            gate_waiter.add_done_callback(lambda _: done.done() or done.set_result(None))
        return done

    return publish


async def test_two_replicas_relays_publish_every_event_once_and_in_commit_order_while_both_take_turns(
    engine: AsyncEngine
) -> None:
    # Two replicas' relays on one outbox, polling hard while a writer commits event after event: were they
    # ever to publish at the same time (or one to publish what the other had just stamped), an event would
    # go out twice or out of order.
    service = f"pair-{uuid.uuid4().hex[:6]}"
    sent: list[tuple[str, str]] = []
    relays = [OutboxRelay(async_sessionmaker(engine, expire_on_commit=False), tables, recorder(sent, name),
                          service=service, registry=CollectorRegistry(), batch_size=7, poll_interval=0.002)
              for name in ("first", "second")]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    events = [credit(uuid.uuid4()) for _ in range(400)]
    mine = {str(e.event_id) for e in events}
    writer = async_sessionmaker(engine, expire_on_commit=False)
    try:
        for event in events:
            async with UnitOfWork(writer, tables, "test") as uow:
                uow.publish(event)
                await uow.commit()
            relays[len(sent) % 2].wake()
        await eventually(lambda: _true(mine <= {event_id for _, event_id in sent}), "every event published")
        await asyncio.sleep(0.3)  # room for a late duplicate
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    published = [event_id for _, event_id in sent if event_id in mine]
    assert published == [str(e.event_id) for e in events], "an event was published twice or out of order"
    assert {name for name, event_id in sent if event_id in mine} == {"first", "second"}, "one relay did it all"


async def _true(value: bool) -> bool:
    return value


async def test_when_the_relay_holding_the_lock_dies_mid_pass_the_other_replicas_relay_publishes_its_rows(
    engine: AsyncEngine
) -> None:
    service = f"takeover-{uuid.uuid4().hex[:6]}"
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    event = credit(uuid.uuid4())
    async with UnitOfWork(session_factory, tables, "test") as uow:
        uow.publish(event)
        await uow.commit()
    # The active relay sends, and its acknowledgements never come: it holds the lock mid-pass, as a replica
    # whose process is about to be killed does. Its own engine, so its connection can be killed alone.
    dying_engine = create_async_engine(engine.url, connect_args={"server_settings": {"application_name": service}})
    sent: list[tuple[str, str]] = []
    never = asyncio.Event()
    active = OutboxRelay(async_sessionmaker(dying_engine), tables, recorder(sent, "active", never),
                         service=service, registry=CollectorRegistry(), poll_interval=0.05)
    standby = OutboxRelay(session_factory, tables, recorder(sent, "standby"), service=service,
                          registry=CollectorRegistry(), poll_interval=0.05)
    tasks = [asyncio.create_task(active.run())]
    try:
        await eventually(lambda: _true(("active", str(event.event_id)) in sent), "the active relay to send")
        tasks.append(asyncio.create_task(standby.run()))
        await asyncio.sleep(1.0)
        assert not [s for s in sent if s[0] == "standby"], "the standby published while the lock was held"
        # The process dies: PostgreSQL sees its connection close, rolls its pass back and frees the lock.
        async with engine.begin() as connection:
            killed = await connection.scalar(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": service})
        assert killed, "the active relay's connection was not found"
        await eventually(lambda: _true(("standby", str(event.event_id)) in sent), "the standby to take over")
    finally:
        # The dead relay's acknowledgements come, so it finds its connection gone and is stopped between passes
        # (cancelled mid-pass on a dead connection, its rollback's error would stand in for the cancellation).
        never.set()
        await asyncio.sleep(0.3)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await dying_engine.dispose()
    async with engine.connect() as connection:
        assert await connection.scalar(sa.select(tables.outbox.c.published_at).where(
            tables.outbox.c.event_id == event.event_id)) is not None


async def test_the_outbox_gauges_show_one_unsent_row_and_its_age_even_while_the_relay_fails(
    platform: Platform, engine: AsyncEngine
) -> None:
    # Measured apart from publishing: a failing relay (the broker is away) and a backlog of one row, the
    # case a gauge set from the relay's passes got wrong, both show.
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    unsent = sa.select(sa.func.count()).select_from(tables.outbox).where(tables.outbox.c.published_at.is_(None))
    async with engine.connect() as connection:  # rows other tests left unsent (no relay runs between tests)
        before = int(await connection.scalar(unsent) or 0)
    event = credit(uuid.uuid4())
    async with UnitOfWork(session_factory, tables, "test") as uow:
        uow.publish(event)
        await uow.commit()
    async with engine.begin() as connection:  # written a while ago
        await connection.execute(tables.outbox.update().where(tables.outbox.c.event_id == event.event_id)
                                 .values(created_at=sa.func.now() - timedelta(seconds=90)))

    async def broker_down(topic: str, key: bytes, value: bytes, headers: Any) -> Any:
        raise ConnectionError("broker went away")

    registry = CollectorRegistry()
    relay = OutboxRelay(session_factory, tables, broker_down, service="backlog-test", registry=registry,
                        poll_interval=0.1, max_backoff=0.2)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # a few failed passes
        await relay.measure()
        assert registry.get_sample_value("microcred_outbox_unsent") == before + 1
        assert (registry.get_sample_value("microcred_outbox_oldest_unsent_age_seconds") or 0) >= 90
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with engine.begin() as connection:  # leave nothing for the other tests' relays
        await connection.execute(tables.outbox.delete().where(tables.outbox.c.event_id == event.event_id))
    await relay.measure()
    assert registry.get_sample_value("microcred_outbox_unsent") == before
    if not before:
        assert registry.get_sample_value("microcred_outbox_oldest_unsent_age_seconds") == 0


async def test_the_count_of_unsent_rows_reads_only_the_partial_index_of_unsent_rows(engine: AsyncEngine) -> None:
    relay = OutboxRelay(async_sessionmaker(engine), tables, None, service="plan-test",  # type: ignore[arg-type]
                        registry=CollectorRegistry())
    async with engine.connect() as connection:
        await connection.execute(sa.text("SET enable_seqscan = off"))  # the table is small here; ask for the plan
        plan = "\n".join((await connection.execute(sa.text(
            "EXPLAIN " + str(relay._measure_unsent.compile(engine, compile_kwargs={"literal_binds": True})))
        )).scalars())
    assert "ix_outbox_unpublished" in plan, plan


async def test_a_consumer_that_falls_behind_reports_its_lag_in_messages_and_seconds_and_zero_once_caught_up(
    platform: Platform, engine: AsyncEngine
) -> None:
    # A new group starts where the topic ends; its handlers wait at a gate, so it falls behind by these events,
    # and the records in its handlers (and behind them) grow old.
    bootstrap = platform.endpoints.kafka_bootstrap
    group = await new_group(platform, "lag")
    events = [credit(uuid.uuid4()) for _ in range(8)]
    await produce(bootstrap, CreditPosted.topic, [(e.record_key(), e.to_json()) for e in events])
    gate = asyncio.Event()

    async def handle(_: CreditPosted) -> None:
        await gate.wait()

    broker = await run_consumer(platform, group, handle)
    policy = broker.consumer_policy
    monitor = ConsumerLagMonitor(policy, bootstrap, registry=policy.registry)
    try:
        await asyncio.sleep(1.5)
        await monitor.refresh()
        behind = _series(policy.registry, "microcred_consumer_lag_messages")
        ages = _series(policy.registry, "microcred_consumer_lag_seconds")
        ends = _series(policy.registry, "microcred_consumer_end_offset")
        assert {labels[0] for labels in behind} == {f"{group}.{CreditPosted.topic}"}
        assert sum(behind.values()) >= len(events), behind
        assert all(ages[labels] >= 1.0 for labels, lag in behind.items() if lag), (behind, ages)
        assert all(ends[labels] >= lag for labels, lag in behind.items())

        gate.set()

        async def caught_up() -> bool:
            await monitor.refresh()
            behind = _series(policy.registry, "microcred_consumer_lag_messages")
            committed = _series(policy.registry, "microcred_consumer_committed_offset")
            ends = _series(policy.registry, "microcred_consumer_end_offset")
            return (bool(behind) and not any(behind.values()) and committed == ends
                    and not any(_series(policy.registry, "microcred_consumer_lag_seconds").values()))

        await eventually(caught_up, "the lag to fall to 0 and the committed offsets to reach the ends")
    finally:
        await monitor.stop()
        await broker.stop()
    await monitor.refresh()  # the consumers hold nothing now: their series go
    assert _series(policy.registry, "microcred_consumer_lag_messages") == {}


def _series(registry: CollectorRegistry, name: str) -> dict[tuple[str, str, str], float]:
    return {(s.labels["group"], s.labels["topic"], s.labels["partition"]): s.value
            for family in registry.collect() for s in family.samples if s.name == name}


async def test_log_ends_are_where_the_next_record_lands_even_where_list_offsets_falls_behind(platform: Platform) -> None:
    # Tansu 0.6.0 answers ListOffsets(latest) with the base offset + 1 of the batch it last wrote within the
    # second (its log is in S3 here), so batches written together read as the first one's end.
    bootstrap = platform.endpoints.kafka_bootstrap
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        tp = TopicPartition(CreditPosted.topic, 0)
        for _ in range(3):
            sent = [await producer.send(tp.topic, credit(uuid.uuid4()).to_json(), partition=0) for _ in range(10)]
            last = max((await asyncio.gather(*sent)), key=lambda meta: meta.offset)
            async with LogEnds(bootstrap) as log_ends:
                assert await log_ends.read([tp]) == {tp: last.offset + 1}
    finally:
        await producer.stop()


async def dead_letters_command(platform: Platform, *args: str) -> tuple[int, str]:
    """Runs ``python -m microcred.runtime.dead_letters`` as an operator would, against this platform's broker."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "microcred.runtime.dead_letters", *args,
        env={**os.environ, "MICROCRED_KAFKA_BOOTSTRAP_SERVERS": platform.endpoints.kafka_bootstrap},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_a_dead_letter_is_listed_with_its_reason_and_once_replayed_is_handled_once(
    platform: Platform, engine: AsyncEngine
) -> None:
    group = await new_group(platform, "replay")
    event = credit(uuid.uuid4())
    handler = counting_handler(engine, group)
    release = {"fixed": False}  # flipped below: the release with the fix (a restart would only rejoin the group)

    async def buggy_until_fixed(received: CreditPosted) -> None:
        if received.event_id == event.event_id and not release["fixed"]:
            raise KeyError("a bug the next release fixes")
        await handler(received)

    await produce(platform.endpoints.kafka_bootstrap, CreditPosted.topic, [(event.record_key(), event.to_json())])
    broker = await run_consumer(platform, group, buggy_until_fixed)
    try:
        await eventually(lambda: _dead_lettered(platform, group, event), "the event to be dead-lettered")
        code, listing = await dead_letters_command(platform, "list", CreditPosted.topic, "--consumer", group, "--json")
        assert code == 0, listing
        (letter,) = [json.loads(line) for line in listing.splitlines()
                     if json.loads(line)["event_id"] == str(event.event_id)]
        assert letter["reason_kind"] == "handler-error" and "KeyError" in letter["reason"]
        assert letter["consumer"] == group and letter["original"].startswith(f"{CreditPosted.topic}[")
        counts = io.StringIO()  # the rest of the command in-process: one subprocess proved the entry point
        assert await dead_letters.run(dead_letters_arguments(
            "--bootstrap-servers", platform.endpoints.kafka_bootstrap, "list"), counts) == 0
        assert dead_letter_topic(CreditPosted.topic) in counts.getvalue()
        assert await count(engine, str(event.license_id)) == 0

        release["fixed"] = True
        code, replayed = await dead_letters_command(platform, "replay", dead_letter_topic(CreditPosted.topic),
                                                    "--offset", letter["position"])
        assert code == 0 and "1 replayed" in replayed, replayed
        # A replay repeated by mistake changes nothing: the inbox has the event.
        assert await dead_letters.run(dead_letters_arguments(
            "--bootstrap-servers", platform.endpoints.kafka_bootstrap, "replay",
            dead_letter_topic(CreditPosted.topic), "--offset", letter["position"]), io.StringIO()) == 0
        await eventually(lambda: _equals(count(engine, str(event.license_id)), 1), "the replayed event")
        await asyncio.sleep(1.5)
        assert await count(engine, str(event.license_id)) == 1
    finally:
        await broker.stop()
    # "replayed <dlt> <p>:<o> to <topic>[<partition>]@<offset>": the record there is the event, without the
    # dead letter's reasons, naming where it came from.
    landed = re.search(r" to (\S+)\[(\d+)\]@(\d+)", replayed)
    assert landed is not None, replayed
    record = await read_record(platform.endpoints.kafka_bootstrap,
                               TopicPartition(landed[1], int(landed[2])), int(landed[3]))
    headers = dict(record.headers)
    assert json.loads(record.value)["event_id"] == str(event.event_id)
    assert headers["dlt-replayed-from"] == f"{dead_letter_topic(CreditPosted.topic)}:{letter['position']}".encode()
    assert not [key for key in headers if key.startswith("dlt-reason")]


def dead_letters_arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    dead_letters.add_arguments(parser)
    return parser.parse_args(argv)


async def read_record(bootstrap: str, tp: TopicPartition, offset: int) -> Any:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign([tp])
        reader.seek(tp, offset)
        return await asyncio.wait_for(reader.getone(tp), 10)
    finally:
        await reader.stop()


async def _dead_lettered(platform: Platform, group: str, event: CreditPosted) -> bool:
    letters = await read_dead_letters(KafkaSettings(kafka_bootstrap_servers=platform.endpoints.kafka_bootstrap),
                                      dead_letter_topic(CreditPosted.topic))
    return any(letter.headers.get("dlt-consumer") == group and letter.describe()["event_id"] == str(event.event_id)
               for letter in letters)
