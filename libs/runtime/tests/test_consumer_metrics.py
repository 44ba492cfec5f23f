"""What a consumer group reports of the messages it finished with, read from a real registry.

Messages go through the runtime's middleware and subscriber (FastStream's in-memory ``TestKafkaBroker``
around a broker built by ``create_broker``); the inbox is the real ``UnitOfWork.claim`` over a session that
answers as PostgreSQL's ``ON CONFLICT DO NOTHING`` would.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from faststream.kafka import TestKafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from microcred.events import CreditPosted
from microcred.runtime.broker import create_broker
from microcred.runtime.consumer import ConsumerPolicy, subscribe
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.settings import ServiceSettings
from microcred.runtime.testing import CommitSession
from microcred.runtime.uow import UnitOfWork

GROUP = "metrics-test"
LABELS = {"group": f"{GROUP}.{CreditPosted.topic}", "topic": CreditPosted.topic}
tables = define_messaging_tables(sa.MetaData())


def credit(event_id: uuid.UUID | None = None) -> CreditPosted:
    return CreditPosted(
        event_id=event_id or uuid.uuid4(), correlation_id=uuid.uuid4(), states=("TN",), entry_id=uuid.uuid4(),
        license_id=uuid.uuid4(), award_id=uuid.uuid4(), teacher_id="t-1", state="TN", amount=Decimal(6),
        unit="points", rule_set_id="TN-example", rule_set_version=1, earned_in_cycle=Decimal(6),
        required_in_cycle=Decimal(60),
    )


class Inbox(CommitSession):
    """A session whose inbox insert conflicts for an event id it has seen, as the primary key does."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[Any] = set()

    def __call__(self) -> Inbox:
        return self

    async def execute(self, *args: Any) -> Any:  # type: ignore[override]  # (statement, params): a result here
        event_id = args[1]["event_id"]
        fresh = event_id not in self.seen
        self.seen.add(event_id)

        class Result:
            def first(self) -> Any:
                return (event_id,) if fresh else None

        return Result()


def claiming(inbox: Inbox, fail_first: int = 0) -> Callable[[CreditPosted], Awaitable[None]]:
    """A handler that claims its event in the inbox, as every service's handlers do, and does nothing more
    when the claim is refused; it may raise before its first ``fail_first`` claims."""
    failures = {"left": fail_first}

    async def handle(event: CreditPosted) -> None:
        async with UnitOfWork(inbox, tables, "test") as uow:  # type: ignore[arg-type]
            if not await uow.claim("test.count", event.event_id):
                return
            if failures["left"]:
                failures["left"] -= 1
                raise KeyError("a bug")
            await uow.commit()

    return handle


async def deliver(handler: Callable[[CreditPosted], Awaitable[None]], *events: CreditPosted) -> ConsumerPolicy:
    broker, policy = create_broker(
        ServiceSettings(service_name=GROUP, consumer_max_attempts=3, consumer_retry_base_seconds=0.001,
                        consumer_retry_max_seconds=0.01),
        tracer_provider=TracerProvider(), registry=CollectorRegistry(),
    )
    subscribe(broker, CreditPosted, group_id=GROUP)(handler)
    async with TestKafkaBroker(broker) as test_broker:
        for event in events:
            await test_broker.publish(event.to_json(), CreditPosted.topic, key=event.record_key())
    return policy


def messages(policy: ConsumerPolicy, outcome: str) -> float:
    return policy.registry.get_sample_value("microcred_consumer_messages_total", LABELS | {"outcome": outcome}) or 0.0


async def test_handled_messages_are_counted_and_timed_per_group_and_topic() -> None:
    policy = await deliver(claiming(Inbox()), credit(), credit())
    assert messages(policy, "handled") == 2
    assert messages(policy, "duplicate") == 0
    assert policy.registry.get_sample_value("microcred_consumer_handler_seconds_count", LABELS) == 2


async def test_a_redelivery_the_inbox_absorbs_counts_as_a_duplicate_not_as_handled() -> None:
    event = credit()
    policy = await deliver(claiming(Inbox()), event, event, credit())
    assert (messages(policy, "handled"), messages(policy, "duplicate")) == (2, 1)


async def test_a_retried_attempt_whose_claim_was_rolled_back_is_still_handled() -> None:
    # The failed attempt's claim never committed; only the last attempt's claims say what the message was.
    inbox = Inbox()
    handler = claiming(inbox, fail_first=1)

    async def forget_rolled_back_claims(event: CreditPosted) -> None:
        inbox.seen.clear()
        await handler(event)

    policy = await deliver(forget_rolled_back_claims, credit())
    assert (messages(policy, "handled"), messages(policy, "duplicate")) == (1, 0)
    assert policy.registry.get_sample_value("microcred_consumer_retries_total", {"topic": CreditPosted.topic}) == 1


async def test_a_message_that_keeps_failing_is_counted_dead_lettered_with_its_reason_class() -> None:
    async def bug(_: CreditPosted) -> None:
        raise KeyError("a bug")

    policy = await deliver(bug, credit())
    assert (messages(policy, "dead_lettered"), messages(policy, "handled")) == (1, 0)
    assert policy.registry.get_sample_value(
        "microcred_consumer_dead_lettered_total", {"topic": CreditPosted.topic, "kind": "handler-error"}) == 1
    assert policy.registry.get_sample_value("microcred_consumer_handler_seconds_count", LABELS) == 1


async def test_a_poison_message_is_counted_dead_lettered_as_poison() -> None:
    broker, policy = create_broker(ServiceSettings(service_name=GROUP), tracer_provider=TracerProvider(),
                                   registry=CollectorRegistry())

    async def handle(_: CreditPosted) -> None: ...

    subscribe(broker, CreditPosted, group_id=GROUP)(handle)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"not json", CreditPosted.topic)
    assert messages(policy, "dead_lettered") == 1
    assert policy.registry.get_sample_value(
        "microcred_consumer_dead_lettered_total", {"topic": CreditPosted.topic, "kind": "poison"}) == 1
