"""The consumer policy's bookkeeping, without a broker: retry budgets and offset commits.

Retry budgets go through the real middleware and subscriber (FastStream's in-memory ``TestKafkaBroker``
around a broker built by ``create_broker``); offset commits through :class:`OffsetCommitter` with a small
fake of the aiokafka consumer's two methods it calls. The real broker's side is in
``tests/integration/test_reliability.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from faststream.kafka import TestKafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter

from microcred.events import CreditPosted, dead_letter_topic
from microcred.runtime.broker import create_broker
from microcred.runtime.consumer import ConsumerPolicy, OffsetCommitter, subscribe
from microcred.runtime.settings import ServiceSettings
from microcred.runtime.testing import database_error

MAX_ATTEMPTS = 3


def credit() -> CreditPosted:
    return CreditPosted(
        correlation_id=uuid.uuid4(), states=("TN",), entry_id=uuid.uuid4(), license_id=uuid.uuid4(),
        award_id=uuid.uuid4(), teacher_id="t-1", state="TN", amount=Decimal(6), unit="points",
        rule_set_id="TN-example", rule_set_version=1, earned_in_cycle=Decimal(6), required_in_cycle=Decimal(60),
    )


def failing(*errors: Callable[[], Exception]) -> tuple[Callable[[CreditPosted], Awaitable[None]], list[int]]:
    """A handler that raises the given errors in turn, then succeeds; and the list its calls land in."""
    calls: list[int] = []

    async def handle(_: CreditPosted) -> None:
        calls.append(len(calls))
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]()

    return handle, calls


async def deliver(handler: Callable[[CreditPosted], Awaitable[None]],
                  adjust: Callable[[ConsumerPolicy], None] | None = None) -> float:
    """Delivers one event to ``handler`` through the runtime's middleware; the dead letters it caused."""
    broker, policy = create_broker(
        ServiceSettings(service_name="policy-test", consumer_max_attempts=MAX_ATTEMPTS,
                        consumer_retry_base_seconds=0.001, consumer_retry_max_seconds=0.01),
        tracer_provider=TracerProvider(), registry=CollectorRegistry(),
    )
    if adjust is not None:
        adjust(policy)
    subscribe(broker, CreditPosted, group_id="policy-test")(handler)
    event = credit()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(event.to_json(), CreditPosted.topic, key=event.record_key())
    return policy.registry.get_sample_value(
        "microcred_consumer_dead_lettered_total", {"topic": CreditPosted.topic, "kind": "handler-error"}
    ) or 0.0


def refused() -> Exception:
    return ConnectionRefusedError(111, "Connect call failed")


def shutting_down() -> Exception:
    return database_error(asyncpg.CannotConnectNowError("the database system is shutting down"))


def bug() -> Exception:
    return KeyError("a bug")


async def test_a_database_that_answers_57p03_for_a_while_is_waited_out_not_dead_lettered() -> None:
    handler, calls = failing(*[shutting_down] * (MAX_ATTEMPTS * 3))
    assert await deliver(handler) == 0
    assert len(calls) == MAX_ATTEMPTS * 3 + 1


async def test_outage_retries_do_not_count_toward_the_handlers_own_failures() -> None:
    # Two failures of its own are below the budget of three, however long the outage before them lasted.
    handler, calls = failing(*[refused] * 7, bug, bug)
    assert await deliver(handler) == 0
    assert len(calls) == 10


async def test_a_handler_that_keeps_failing_after_an_outage_is_dead_lettered_after_its_own_budget() -> None:
    handler, calls = failing(*[refused] * 7, *[bug] * 50)
    assert await deliver(handler) == 1
    assert len(calls) == 7 + MAX_ATTEMPTS


async def test_a_dead_letter_the_broker_refuses_is_retried_rather_than_skipped() -> None:
    published: list[str] = []

    class BrokerAwayTwice:
        def __init__(self, broker: Any) -> None:
            self.broker, self.refusals = broker, 2

        async def publish(self, *args: Any, **kwargs: Any) -> Any:
            if self.refusals:
                self.refusals -= 1
                raise ConnectionRefusedError(111, "broker away")
            published.append(args[1])
            return await self.broker.publish(*args, **kwargs)

    def broker_away(policy: ConsumerPolicy) -> None:
        policy.broker = BrokerAwayTwice(policy.broker)  # type: ignore[assignment]

    handler, _ = failing(*[bug] * 50)
    assert await deliver(handler, broker_away) == 1
    assert published == [dead_letter_topic(CreditPosted.topic)]


class FakeConsumer:
    """The two methods of an aiokafka consumer the committer calls."""

    def __init__(self, *partitions: TopicPartition) -> None:
        self.partitions = frozenset(partitions)
        self.commits: list[dict[TopicPartition, int]] = []
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.refusals = 0

    def assignment(self) -> frozenset[TopicPartition]:
        return self.partitions

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.entered.set()
        await self.gate.wait()
        if self.refusals:
            self.refusals -= 1
            raise CommitFailedError("the group is rebalancing")
        self.commits.append(dict(offsets))


def committer() -> OffsetCommitter:
    return OffsetCommitter(0.01, Counter("commit_failures", "", registry=CollectorRegistry()))


async def committed(consumer: FakeConsumer, tp: TopicPartition, offset: int, timeout: float = 2.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if any(commit.get(tp) == offset for commit in consumer.commits):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_an_offset_handled_while_a_commit_is_in_flight_is_committed_without_another_message() -> None:
    tp = TopicPartition("t", 0)
    consumer, commits = FakeConsumer(tp), committer()
    consumer.gate.clear()
    commits.handled(consumer, "t", 0, 4)  # type: ignore[arg-type]
    await asyncio.wait_for(consumer.entered.wait(), 2.0)
    commits.handled(consumer, "t", 0, 5)  # type: ignore[arg-type]  # the partition's last message
    consumer.gate.set()
    assert await committed(consumer, tp, 6), f"offset 6 was never committed: {consumer.commits}"
    await commits.close()


async def test_a_failed_commit_is_retried_until_it_succeeds() -> None:
    tp = TopicPartition("t", 0)
    consumer, commits = FakeConsumer(tp), committer()
    consumer.refusals = 3
    commits.handled(consumer, "t", 0, 9)  # type: ignore[arg-type]
    assert await committed(consumer, tp, 10), "a failed commit was dropped: the group would show lag 1 for good"
    await commits.close()


async def test_a_partition_taken_by_a_rebalance_is_left_out_of_the_retried_commit() -> None:
    kept, taken = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer, commits = FakeConsumer(kept, taken), committer()
    consumer.refusals = 1
    commits.handled(consumer, "t", 0, 1)  # type: ignore[arg-type]
    commits.handled(consumer, "t", 1, 1)  # type: ignore[arg-type]
    await asyncio.wait_for(consumer.entered.wait(), 2.0)
    consumer.partitions = frozenset({kept})
    assert await committed(consumer, kept, 2)
    assert all(taken not in commit for commit in consumer.commits)
    await commits.close()
