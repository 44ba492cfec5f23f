"""How every subscriber consumes: ack policy, retries, dead letters.

Ack policy (the same for every subscriber, set in :func:`subscribe`): a message's offset is committed
only after its handler returned, i.e. after its database transaction committed (manual commits, no
auto-commit). A crash before that redelivers the message, and the handler's inbox row makes the
redelivery a no-op if the first delivery had in fact committed. FastStream's Kafka default
(acknowledge on receipt) would lose the event on such a crash.

Commits are coalesced by :class:`OffsetCommitter`: the handled offsets of a partition are committed in
the background at most every ``consumer_commit_interval_seconds``, not once per message. A commit is a
broker round trip (about 14 ms on Tansu, whose offsets live in S3), and awaiting it after every message
capped each subscriber near 50 messages/s. Only offsets of handled messages are ever committed, so the
guarantee is unchanged; a crash redelivers at most one interval of handled messages, which the inbox
turns into no-ops.

Failures are sorted in :class:`ReliabilityMiddleware`, which wraps decoding and the handler:
- a message that can never succeed (not JSON, unknown type or version, invalid) goes to
  ``<topic>.dlt`` at once, with the reason in headers, and is then committed so the partition moves on;
- a dependency that is unreachable or not ready (database, broker, object store: see
  :mod:`microcred.runtime.outages`) is retried with capped exponential backoff for as long as it lasts,
  and never counts as a failure of the message: skipping would break the aggregate's order, and an outage
  says nothing about the message;
- any other error is the handler's own failure: after ``consumer_max_attempts`` of those (outage retries
  in between do not count) the message is dead-lettered with its reason.
Every message a group finishes with is counted once by outcome in ``microcred_consumer_messages_total``:
``handled``, ``duplicate`` (the handler's inbox claims were all refused: a redelivery the inbox absorbed,
learnt from :class:`~microcred.runtime.context.InboxClaims` rather than from each handler) or
``dead_lettered``; the time in the handler, retries included, goes to ``microcred_consumer_handler_seconds``.
The record in the handler is noted while it is there, so the lag monitor (``runtime.lag``) can tell its age.

Nothing is swallowed: every outcome is a commit after success or a record in the dead-letter topic. A
message is never left behind either: FastStream moves on to the partition's next message whatever the
middleware raises, and that message's commit would cover this one, so the dead-letter publish itself is
retried until the broker takes it. ``runtime.dead_letters`` (``microcred dead-letters``) lists a dead-letter
topic with the reasons and replays chosen records to their topic, where the inbox makes a second delivery
harmless.

Batches (``consumer_batch_max_records``, 50 by default; 1 is one transaction per message):
once a message arrives, the records its consumer has already fetched for the same partition are taken too
(``getmany`` of that partition with no wait, so nothing waits for a batch to fill) and handled, in offset
order, in one database transaction (runtime.batches): one BEGIN and COMMIT, one inbox INSERT and one outbox
INSERT for all of them. The ack policy is the same: their offsets go to the committer only after that
transaction committed. If anything goes wrong (a handler raises, an event is poison, an inbox row already
existed, a handler rolled back on purpose), the batch is rolled back and its messages are handled one
transaction per message in order, the ordinary way above, so each keeps exactly today's retries, dead
letters and inbox guarantee, and none is lost or handled twice. What a handler does outside its unit of
work may then run again, as it does today when a handler is retried. The records taken bypass FastStream's
middlewares (the telemetry middleware, FastStream's own Prometheus counters): each gets its own ``process``
span from the consumer (the same span the middleware makes), so it shows in its trace and the events it
writes continue that trace; this module's metrics count it as any other.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from prometheus_client import CollectorRegistry, Counter, Histogram
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type

from microcred.events import IntegrationEvent, PoisonMessage, dead_letter_topic, decode_event
from microcred.events.topics import consumer_group
from microcred.runtime.asyncapi import Subscription
from microcred.runtime.batches import BatchConflict, SharedTransaction, shared_transaction_var
from microcred.runtime.cancellation import stop_if_cancelled
from microcred.runtime.context import InboxClaims, correlation_id_var, event_id_var, inbox_claims_var, parse_uuid
from microcred.runtime.messaging_telemetry import MessagingTelemetry
from microcred.runtime.outages import Dependency, unavailable_dependency

log = logging.getLogger(__name__)

#: Buckets of the handler time: from a no-op redelivery (a few ms) to a retried failure (tens of seconds).
HANDLER_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True)
class InFlight:
    """The record a consumer's handler holds now: its partition's oldest record not yet handled."""

    offset: int
    timestamp_ms: int


class OffsetCommitter:
    """Commits handled offsets in the background, coalesced per consumer and partition.

    :meth:`handled` is called once a message's outcome is final (handled, or dead-lettered); each consumer
    processes its partitions' messages in order, so the offset recorded for a partition only grows.
    Offsets of partitions a rebalance has since taken from the consumer are left out of its commit (the
    broker would refuse the whole request for them); their new owner re-reads from the last commit.

    One background task commits the latest offsets every ``interval``, one request per consumer, and keeps
    going while anything is pending: an offset recorded while a commit is in flight goes out with the next
    round, and so do the offsets of a commit that failed (the broker is away, a rebalance is under way),
    rather than waiting for another message on their partition, which in a quiet partition never comes.
    A commit lost for good (the process dies) only causes redeliveries, which the inbox absorbs.
    """

    def __init__(self, interval: float, failures: Counter) -> None:
        self.interval = interval
        self._failures = failures
        self._pending: dict[AIOKafkaConsumer, dict[TopicPartition, int]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # Set by close(): a stopped aiokafka consumer still lists its partitions and fails every commit, so
        # a flusher started afterwards would retry for the rest of the process.
        self._closed = False

    def open(self) -> None:
        """Commit again after :meth:`close` (the broker started again)."""
        self._closed = False

    def handled(self, consumer: AIOKafkaConsumer, topic: str, partition: int, offset: int) -> None:
        self._pending.setdefault(consumer, {})[TopicPartition(topic, partition)] = offset + 1
        if not self._closed and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush_while_pending(), name="offset-commits")

    async def _flush_while_pending(self) -> None:
        while self._pending:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        """Commit what is pending now (also called before the subscribers stop)."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            for consumer, offsets in pending.items():
                owned = consumer.assignment()
                offsets = {tp: offset for tp, offset in offsets.items() if tp in owned}
                if not offsets:
                    continue
                try:
                    await consumer.commit(offsets)
                except asyncio.CancelledError:
                    self._pend_again(consumer, offsets)
                    raise
                except Exception as exc:
                    self._failures.inc()
                    log.warning("offset commit failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc,
                                self.interval)
                    self._pend_again(consumer, offsets)

    def _pend_again(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        pending = self._pending.setdefault(consumer, {})
        for tp, offset in offsets.items():
            # A later offset handled while this commit was in flight supersedes it.
            pending[tp] = max(pending.get(tp, offset), offset)

    async def close(self) -> None:
        self._closed = True
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()


@dataclass(frozen=True)
class Handler:
    """A subscription's handler and the event type it takes, for the records a batch takes past FastStream."""

    cls: type[IntegrationEvent]
    fn: Callable[[Any], Awaitable[Any]]

    async def __call__(self, record: Any) -> Any:
        return await self.fn(decode_event(record.value or b"", expected=self.cls))


@dataclass
class ConsumerPolicy:
    service: str
    registry: CollectorRegistry
    max_attempts: int = 5
    retry_base_seconds: float = 0.2
    retry_max_seconds: float = 30.0
    commit_interval_seconds: float = 1.0
    fetch_max_wait_ms: int = 500
    workers_per_topic: int = 1
    #: Records of one partition handled in one transaction at most; 1 is one transaction per message.
    batch_max_records: int = 1
    #: Set by create_broker: the process spans of the records a batch takes past FastStream's middlewares.
    telemetry: MessagingTelemetry | None = None
    broker: KafkaBroker | None = None
    #: The handler of each (group, topic), registered by :func:`subscribe`.
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    dead_lettered: Counter = field(init=False)
    retried: Counter = field(init=False)
    waited_on: Counter = field(init=False)
    messages: Counter = field(init=False)
    handler_seconds: Histogram = field(init=False)
    committer: OffsetCommitter = field(init=False)
    batch_fallbacks: Counter = field(init=False)
    batch_records: Histogram = field(init=False)
    #: Per consumer, the record each partition's handler holds now (read by runtime.lag).
    in_flight: dict[AIOKafkaConsumer, dict[TopicPartition, InFlight]] = field(init=False, default_factory=dict)
    _groups: dict[AIOKafkaConsumer, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.committer = OffsetCommitter(self.commit_interval_seconds, Counter(
            "microcred_consumer_commit_failures", "Offset commits that failed (their messages may be redelivered)",
            registry=self.registry,
        ))
        self.dead_lettered = Counter(
            "microcred_consumer_dead_lettered",
            "Messages sent to a dead-letter topic, by reason class (poison, handler-error)",
            ["topic", "kind"],
            registry=self.registry,
        )
        self.messages = Counter(
            "microcred_consumer_messages",
            "Messages a consumer group finished with, by outcome (handled, duplicate, dead_lettered)",
            ["group", "topic", "outcome"], registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "microcred_consumer_handler_seconds", "Time in the handler, retries included", ["group", "topic"],
            buckets=HANDLER_SECONDS_BUCKETS, registry=self.registry,
        )
        self.batch_fallbacks = Counter(
            "microcred_consumer_batch_fallbacks",
            "Batches rolled back and handled one transaction per message instead", ["topic"],
            registry=self.registry,
        )
        self.batch_records = Histogram(
            "microcred_consumer_batch_records", "Records of one partition taken into one transaction (batches of 2 or more)",
            ["topic"], buckets=(2, 3, 5, 10, 20, 50, 100, 200, 500), registry=self.registry,
        )
        self.retried = Counter(
            "microcred_consumer_retries", "Handler attempts that failed and were retried", ["topic"],
            registry=self.registry,
        )
        self.waited_on = Counter(
            "microcred_consumer_outage_retries",
            "Handler attempts that met an unreachable or not-ready dependency (never dead-lettered)",
            ["topic", "dependency"], registry=self.registry,
        )

    def start_series(self, group: str, topic: str) -> None:
        """Every series a subscription can move, at 0 from the start: a counter's first increment is then a
        visible increase (a series born at 1 reads as no change), and dashboards show 0, not "no data"."""
        for outcome in ("handled", "duplicate", "dead_lettered"):
            self.messages.labels(group, topic, outcome)
        for kind in ("poison", "handler-error"):
            self.dead_lettered.labels(topic, kind)
        self.retried.labels(topic)
        self.batch_fallbacks.labels(topic)
        for dependency in get_args(Dependency):
            self.waited_on.labels(topic, dependency)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1, 2, ...): doubling from the base, capped."""
        # The exponent is bounded: an outage of hours reaches attempt numbers whose power of two no float holds.
        return float(min(self.retry_base_seconds * 2 ** min(attempt - 1, 40), self.retry_max_seconds))

    def consumers(self) -> list[tuple[str, AIOKafkaConsumer]]:
        """Every running aiokafka consumer of the broker's subscribers, with its group."""
        found: list[tuple[str, AIOKafkaConsumer]] = []
        for subscriber in self.broker.subscribers if self.broker is not None else ():
            group = getattr(subscriber, "group_id", None)
            # FastStream's concurrent-between-partitions subscriber has a subgroup; the plain one, one consumer.
            members = getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)]
            found += [(group, c) for c in members if group and isinstance(c, AIOKafkaConsumer)]
        return found

    def group_of(self, consumer: AIOKafkaConsumer | None, topic: str) -> str:
        group = self._groups.get(consumer) if consumer is not None else None
        if group is None and consumer is not None:
            # A consumer first seen (the subscribers started): learn the groups of all of them at once.
            self._groups = dict((c, g) for g, c in self.consumers())
            group = self._groups.get(consumer)
        # subscribe() names groups "<service>.<topic>"; a consumer not among the subscribers is a test's own.
        return group or f"{self.service}.{topic}"

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
        policy = self.policy
        consumer = getattr(msg, "consumer", None)  # FastStream's KafkaMessage carries its aiokafka consumer
        if not isinstance(consumer, AIOKafkaConsumer):
            consumer = None
        group = policy.group_of(consumer, record.topic)
        handler = policy.handlers.get((group, record.topic))
        more = await self._fetched_after(consumer, record) if handler is not None else []
        if handler is None or not more:
            return await self._consume_one(lambda: call_next(msg), record, consumer, group)
        records = [record, *more]
        policy.batch_records.labels(record.topic).observe(len(records))
        if await self._consume_together(handler, records, consumer, group):
            return None
        # The batch was rolled back: each message the ordinary way, in order, the first through FastStream's.
        result = await self._consume_one(lambda: call_next(msg), record, consumer, group)
        for extra in more:
            with self._own_span(extra, group):
                await self._consume_one(functools.partial(handler, extra), extra, consumer, group)
        return result

    def _own_span(self, record: Any, group: str) -> AbstractContextManager[object]:
        """A ``process`` span for a record taken past FastStream's middlewares (whose span is the first record's),
        so it shows in its own trace and the events its handler writes continue that trace."""
        telemetry = self.policy.telemetry
        return telemetry.processing(record, group) if telemetry is not None else nullcontext()

    async def _fetched_after(self, consumer: AIOKafkaConsumer | None, record: Any) -> list[Any]:
        """The records the consumer has already fetched after ``record`` in its partition, taken from its
        buffer (so FastStream does not deliver them again), without waiting for more; none unless batching."""
        if consumer is None or self.policy.batch_max_records <= 1:
            return []
        tp = TopicPartition(record.topic, record.partition)
        try:
            fetched = await consumer.getmany(tp, timeout_ms=0, max_records=self.policy.batch_max_records - 1)
        except Exception as exc:  # the consumer is stopping, or a fetch error: this message alone, as always
            stop_if_cancelled(exc)
            log.warning("no batch from %s (%s: %s)", tp, type(exc).__name__, exc)
            return []
        return list(fetched.get(tp, ()))

    async def _consume_one(
        self, attempt: Callable[[], Awaitable[Any]], record: Any, consumer: AIOKafkaConsumer | None, group: str
    ) -> Any:
        """One message in its own transaction(s): retried, dead-lettered, counted and committed as above."""
        correlation_token = correlation_id_var.set(parse_uuid(_header(record.headers, "correlation_id")))
        event_token = event_id_var.set(parse_uuid(_header(record.headers, "ce_id")))
        policy = self.policy
        tp = TopicPartition(record.topic, record.partition)
        held = policy.in_flight.setdefault(consumer, {}) if consumer is not None else {}
        held[tp] = InFlight(record.offset, record.timestamp)
        started = time.perf_counter()
        try:
            outcome, result = await self._consume_with_retries(attempt, record)
            # Reached only once the outcome is final; an error escaping above (cancellation at shutdown)
            # leaves the offset uncommitted, so the message comes again, and is counted then.
            policy.handler_seconds.labels(group, record.topic).observe(time.perf_counter() - started)
            policy.messages.labels(group, record.topic, outcome).inc()
            if consumer is not None:
                policy.committer.handled(consumer, record.topic, record.partition, record.offset)
            return result
        finally:
            held.pop(tp, None)
            correlation_id_var.reset(correlation_token)
            event_id_var.reset(event_token)

    async def _consume_together(
        self, handler: Handler, records: list[Any], consumer: AIOKafkaConsumer | None, group: str
    ) -> bool:
        """One partition's ``records`` in one transaction (runtime.batches); False, with nothing committed
        and nothing counted, if the batch has to be handled one message at a time instead."""
        policy = self.policy
        first = records[0]
        tp = TopicPartition(first.topic, first.partition)
        held = policy.in_flight.setdefault(consumer, {}) if consumer is not None else {}
        shared = SharedTransaction()
        shared_token = shared_transaction_var.set(shared)
        outcomes: list[str] = []
        started = time.perf_counter()
        try:
            for record in records:
                held[tp] = InFlight(record.offset, record.timestamp)
                tokens = (
                    correlation_id_var.set(parse_uuid(_header(record.headers, "correlation_id"))),
                    event_id_var.set(parse_uuid(_header(record.headers, "ce_id"))),
                )
                claims = InboxClaims()
                claims_token = inbox_claims_var.set(claims)
                try:
                    # The first is in the middleware's span; each span ends with its handler, before the batch commits.
                    with nullcontext() if record is first else self._own_span(record, group):
                        await handler(record)
                finally:
                    inbox_claims_var.reset(claims_token)
                    correlation_id_var.reset(tokens[0])
                    event_id_var.reset(tokens[1])
                if shared.abandoned:
                    raise BatchConflict("a handler left its unit of work without committing")
                outcomes.append("duplicate" if claims.absorbed_a_redelivery else "handled")
            await shared.commit()
        except asyncio.CancelledError:
            held.pop(tp, None)
            raise
        except Exception as exc:
            stop_if_cancelled(exc)
            held.pop(tp, None)
            policy.batch_fallbacks.labels(first.topic).inc()
            log.info("batch of %d from %s falls back to one transaction per message (%s: %s)",
                     len(records), tp, type(exc).__name__, exc)
            return False
        finally:
            shared_transaction_var.reset(shared_token)
            try:
                await shared.close()
            except Exception as exc:  # the connection died after the outcome was settled; the pool drops it
                log.warning("closing a batch's session failed (%s: %s)", type(exc).__name__, exc)
        held.pop(tp, None)
        for step in shared.after_commit:
            try:
                step()
            except Exception:  # committed: a metric or a wake-up that failed must not redo the batch
                log.exception("an after-commit step of a batch failed")
        elapsed = (time.perf_counter() - started) / len(records)
        for outcome in outcomes:
            policy.handler_seconds.labels(group, first.topic).observe(elapsed)
            policy.messages.labels(group, first.topic, outcome).inc()
        if consumer is not None:
            last = records[-1]
            policy.committer.handled(consumer, last.topic, last.partition, last.offset)
        return True

    async def _consume_with_retries(self, attempt: Callable[[], Awaitable[Any]], record: Any) -> tuple[str, Any]:
        """The message's outcome (handled, duplicate, dead_lettered) and the handler's result."""
        # Two budgets, which is why this is a loop rather than one tenacity policy: the handler's own
        # failures lead to the dead-letter topic after max_attempts, an outage never does; each has its
        # own backoff, so a long outage does not slow the retries of a later bug, nor the reverse.
        policy = self.policy
        failures = 0
        outage_attempts = 0
        while True:
            claims = InboxClaims()  # per attempt: a failed attempt's claims were rolled back with it
            claims_token = inbox_claims_var.set(claims)
            try:
                result = await attempt()
                return ("duplicate" if claims.absorbed_a_redelivery else "handled"), result
            except PoisonMessage as exc:
                await self._dead_letter(record, "poison", exc.reason)
                return "dead_lettered", None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)  # a stop request surfacing as a failed cleanup is not a handler failure
                policy.retried.labels(record.topic).inc()
                dependency = unavailable_dependency(exc)
                if dependency is None:
                    failures += 1
                    if failures >= policy.max_attempts:
                        log.exception("handler failed %d times; dead-lettering", failures)
                        await self._dead_letter(
                            record, "handler-error", f"failed {failures} times: {type(exc).__name__}: {exc}"
                        )
                        return "dead_lettered", None
                    delay = policy.backoff(failures)
                else:
                    outage_attempts += 1
                    policy.waited_on.labels(record.topic, dependency).inc()
                    delay = policy.backoff(outage_attempts)
                log.warning(
                    "handler attempt failed (%s: %s; %s); retrying in %.2fs",
                    type(exc).__name__, exc,
                    f"{dependency} unavailable" if dependency else f"failure {failures} of {policy.max_attempts}",
                    delay,
                    extra={"transient": dependency is not None, "topic": record.topic},
                )
                await asyncio.sleep(delay)
            finally:
                inbox_claims_var.reset(claims_token)

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
        # Awaited with acks=all before the original offset is committed, and retried until the broker takes
        # it, whatever the error: given up on, the message would be skipped (FastStream goes on to the next
        # message, whose commit covers this one). A partition that stalls here shows as consumer lag.
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=lambda state: self.policy.backoff(state.attempt_number),
            before_sleep=before_sleep_log(log, logging.ERROR),
        )
        async for attempt in retrying:
            with attempt:
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
    """The one way services subscribe: decoded as ``cls`` by a tolerant reader, committed after success
    (``AckPolicy.MANUAL``: FastStream never commits; :class:`OffsetCommitter` does, after the outcome).

    Each (service, topic) pair is its own consumer group, ``<service>.<topic>``: were all of a service's
    subscribers one group, every subscriber joining or leaving would rebalance all the others (seen
    here as 8 s stalls per subscriber at start-up). A new group reads from the earliest offset, so a new
    service catches up on history.

    The group has ``workers_per_topic`` consumers (FastStream's concurrent-between-partitions subscriber):
    each owns a share of the partitions and processes them one message at a time, in order, so the events
    of one key (one aggregate) are never handled out of order or at once, while a slow message holds only
    its own consumer's partitions.
    """
    policy: ConsumerPolicy | None = getattr(broker, "consumer_policy", None)
    group = consumer_group(group_id, cls.topic)
    # The service's AsyncAPI document lists what it reads, and with which group, from here.
    subscriptions: list[Subscription] | None = getattr(broker, "subscriptions", None)
    if subscriptions is not None:
        subscriptions.append(Subscription(cls, group))
    if policy is not None:
        policy.start_series(group, cls.topic)
    register = broker.subscriber(
        cls.topic,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        # See ServiceSettings.consumer_fetch_max_wait_ms.
        fetch_max_wait_ms=policy.fetch_max_wait_ms if policy else 500,
        # A broker not built by create_broker (FastStream's in-memory TestKafkaBroker in unit tests) keeps
        # the plain one-consumer subscriber.
        max_workers=policy.workers_per_topic if policy else 1,
        decoder=event_decoder(cls),
        title=f"{group_id}:{cls.topic}",
    )

    def decorator(fn: Callable[[Any], Awaitable[Any]]) -> Any:
        if policy is not None:
            # For a batch's records past the first, which the middleware hands to the handler itself.
            policy.handlers[(group, cls.topic)] = Handler(cls, fn)
        return register(fn)

    return decorator
