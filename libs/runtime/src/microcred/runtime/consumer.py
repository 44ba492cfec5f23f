"""How every subscriber consumes: ack policy, retries, dead letters.

Ack policy (the same for every subscriber, set in :func:`subscribe`): offsets are committed only
after the handler returned, i.e. after its database transaction committed (``NACK_ON_ERROR``, manual
commits, no auto-commit). A crash before that redelivers the message, and the handler's inbox row makes
the redelivery a no-op if the first delivery had in fact committed. FastStream's Kafka default
(acknowledge on receipt) would lose the event on such a crash.

Failures are sorted in :class:`ReliabilityMiddleware`, which wraps decoding and the handler:
- a message that can never succeed (not JSON, unknown type or version, invalid) goes to
  ``<topic>.dlt`` at once, with the reason in headers, and is then committed so the partition moves on;
- a transient failure (database or broker unreachable) is retried with capped exponential backoff
  for as long as it lasts: skipping would break the aggregate's order;
- any other error is retried ``consumer_max_attempts`` times, then dead-lettered with its reason.
Nothing is swallowed: every outcome is a commit after success or a record in the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from microcred.events import IntegrationEvent, PoisonMessage, dead_letter_topic, decode_event
from microcred.runtime.context import correlation_id_var, event_id_var, parse_uuid

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    KafkaError,
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT_ERRORS)


@dataclass
class ConsumerPolicy:
    service: str
    registry: CollectorRegistry
    max_attempts: int = 5
    retry_base_seconds: float = 0.2
    retry_max_seconds: float = 30.0
    broker: KafkaBroker | None = None
    dead_lettered: Counter = field(init=False)
    retried: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.dead_lettered = Counter(
            "microcred_consumer_dead_lettered",
            "Messages sent to a dead-letter topic",
            ["topic", "reason_kind"],
            registry=self.registry,
        )
        self.retried = Counter(
            "microcred_consumer_retries", "Handler attempts that failed and were retried", ["topic"],
            registry=self.registry,
        )

    def middleware(self) -> Callable[..., BaseMiddleware]:
        policy = self

        class _Bound(ReliabilityMiddleware):
            def __init__(self, msg: Any, /, *, context: Any) -> None:
                super().__init__(msg, context=context, policy=policy)

        return _Bound


def _header(headers: list[tuple[str, bytes]] | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value
    return None


class ReliabilityMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, policy: ConsumerPolicy) -> None:
        super().__init__(msg, context=context)
        self.policy = policy

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        record = msg.raw_message
        correlation_token = correlation_id_var.set(parse_uuid(_header(record.headers, "correlation_id")))
        event_token = event_id_var.set(parse_uuid(_header(record.headers, "ce_id")))
        try:
            return await self._consume_with_retries(call_next, msg, record)
        finally:
            correlation_id_var.reset(correlation_token)
            event_id_var.reset(event_token)

    async def _consume_with_retries(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any, record: Any) -> Any:
        policy = self.policy
        attempt = 0
        while True:
            try:
                return await call_next(msg)
            except PoisonMessage as exc:
                await self._dead_letter(record, "poison", exc.reason)
                return None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient = is_transient(exc)
                attempt += 1
                policy.retried.labels(record.topic).inc()
                if not transient and attempt >= policy.max_attempts:
                    log.exception("handler failed %d times; dead-lettering", attempt)
                    await self._dead_letter(
                        record, "handler-error", f"failed {attempt} times: {type(exc).__name__}: {exc}"
                    )
                    return None
                delay = min(policy.retry_base_seconds * 2 ** (attempt - 1), policy.retry_max_seconds)
                log.warning(
                    "handler attempt %d failed (%s: %s); retrying in %.2fs",
                    attempt, type(exc).__name__, exc, delay,
                    extra={"transient": transient, "topic": record.topic},
                )
                await asyncio.sleep(delay)

    async def _dead_letter(self, record: Any, kind: str, reason: str) -> None:
        broker = self.policy.broker
        assert broker is not None, "ConsumerPolicy.broker is set when the broker is built"
        headers = {key: value.decode(errors="replace") for key, value in record.headers or ()}
        headers |= {
            "dlt-reason": reason[:2000],
            "dlt-reason-kind": kind,
            "dlt-original-topic": record.topic,
            "dlt-original-partition": str(record.partition),
            "dlt-original-offset": str(record.offset),
            "dlt-consumer": self.policy.service,
            "dlt-failed-at": datetime.now(UTC).isoformat(),
        }
        # Awaited with acks=all before the original offset is committed: if this publish fails the
        # message is redelivered, never dropped.
        await broker.publish(
            record.value or b"", dead_letter_topic(record.topic), key=record.key, headers=headers
        )
        self.policy.dead_lettered.labels(record.topic, kind).inc()
        log.error("dead-lettered message from %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)


def event_decoder(cls: type[IntegrationEvent]) -> Callable[[Any], Awaitable[IntegrationEvent]]:
    async def decode(msg: Any) -> IntegrationEvent:
        return decode_event(msg.body, expected=cls)

    return decode


def subscribe(broker: KafkaBroker, cls: type[IntegrationEvent], *, group_id: str) -> Any:
    """The one way services subscribe: decoded as ``cls`` by a tolerant reader, committed after success.

    Each (service, topic) pair is its own consumer group, ``<service>.<topic>``: were all of a service's
    subscribers one group, every subscriber joining or leaving would rebalance all the others (seen
    here as 8 s stalls per subscriber at start-up). A new group reads from the earliest offset, so a new
    service catches up on history; each partition is processed one message at a time, in order.
    """
    return broker.subscriber(
        cls.topic,
        group_id=f"{group_id}.{cls.topic}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=event_decoder(cls),
        title=f"{group_id}:{cls.topic}",
    )
