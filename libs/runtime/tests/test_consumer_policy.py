"""The consumer policy's retry budgets, without a broker: through the real middleware and subscriber
(FastStream's in-memory ``TestKafkaBroker`` around a broker built by ``create_broker``). The real broker's
side is in ``tests/integration/test_reliability.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
from faststream.kafka import TestKafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from microcred.events import CreditPosted, dead_letter_topic
from microcred.runtime.broker import create_broker
from microcred.runtime.consumer import ConsumerPolicy, subscribe
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
        "microcred_consumer_dead_lettered_total", {"topic": CreditPosted.topic, "reason_kind": "handler-error"}
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
