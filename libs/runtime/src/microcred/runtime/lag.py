"""Consumer lag, reported by the consumers themselves, per group, topic and the partitions this replica holds.

For each partition a consumer of this process holds, every refresh (a background loop, never a scrape):

- ``end``: the log's real end, from a fetch's high watermark (:class:`~microcred.runtime.offsets.LogEnds`:
  Tansu's ListOffsets falls behind by the last second of writes). Not the subscriber's own high watermark:
  aiokafka only fetches a partition whose buffer is empty, so a consumer stuck on a message would report
  an end that stands still, and the stall alert (committed flat while the end grows) would never fire;
- ``next``: the offset of the next record to handle: the record in the handler if there is one
  (``ConsumerPolicy.in_flight``), else the consumer's position (FastStream hands records to the handler one
  at a time, so the position is one past the last record handed out);
- lag in messages is ``end - next``; lag in seconds is the age of the record at ``next``: the in-flight
  record's timestamp, or, for a partition behind with nothing in its handler (its consumer is busy with
  another partition), the timestamp of the record at ``next`` read with one small fetch. 0 when caught up;
- ``committed``: the group's committed offset, asked of the group coordinator.

Series of partitions no longer held (a rebalance gave them to another replica) are removed, so a partition
is reported by the one replica that holds it and the label set stays bounded by the partitions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from prometheus_client import CollectorRegistry, Gauge

from microcred.runtime.consumer import ConsumerPolicy
from microcred.runtime.offsets import LogEnds

log = logging.getLogger(__name__)

Labels = tuple[str, str, str]


class ConsumerLagMonitor:
    """Built with the platform's client options: ``ConsumerLagMonitor(policy, registry=r, **kafka_client_options(s))``."""

    def __init__(
        self, policy: ConsumerPolicy, bootstrap_servers: str, *, registry: CollectorRegistry,
        timeout: float = 5.0, **client_options: Any,
    ) -> None:
        self._policy = policy
        self._bootstrap_servers = bootstrap_servers
        self._client_options = client_options
        self._timeout = timeout
        self._ends: LogEnds | None = None
        self._reported: set[Labels] = set()
        labels = ["group", "topic", "partition"]
        self.lag_messages = Gauge(
            "microcred_consumer_lag_messages",
            "End offset minus the next offset this replica will handle, for the partitions it holds",
            labels, registry=registry,
        )
        self.lag_seconds = Gauge(
            "microcred_consumer_lag_seconds", "Age of the oldest record not yet handled (0 when caught up)",
            labels, registry=registry,
        )
        self.end_offset = Gauge(
            "microcred_consumer_end_offset", "The partition's end offset as last read", labels, registry=registry,
        )
        self.committed_offset = Gauge(
            "microcred_consumer_committed_offset", "The group's committed offset", labels, registry=registry,
        )

    async def stop(self) -> None:
        if self._ends is not None:
            ends, self._ends = self._ends, None
            await ends.stop()

    async def refresh(self) -> None:
        """Read every held partition's end, next and committed offsets once and set the gauges."""
        held = [(group, consumer, tp) for group, consumer in self._policy.consumers()
                for tp in sorted(consumer.assignment())]
        if not held:
            self._forget_all_but(set())
            return
        if self._ends is None:
            ends = LogEnds(self._bootstrap_servers, **self._client_options)
            await ends.start()
            self._ends = ends
        partitions = {tp for _, _, tp in held}
        log_ends = await self._ends.read(partitions, timeout=self._timeout)
        now_ms = time.time() * 1000
        nexts: dict[tuple[AIOKafkaConsumer, TopicPartition], int] = {}
        ages: dict[tuple[AIOKafkaConsumer, TopicPartition], float] = {}
        for _, consumer, tp in held:
            record = self._policy.in_flight.get(consumer, {}).get(tp)
            if record is not None:
                nexts[consumer, tp] = record.offset
                ages[consumer, tp] = max(now_ms - record.timestamp_ms, 0.0) / 1000
                continue
            try:
                nexts[consumer, tp] = await asyncio.wait_for(consumer.position(tp), self._timeout)
            except (TimeoutError, IllegalStateError):  # revoked since, or no position yet: next refresh
                continue
        held = [(group, consumer, tp) for group, consumer, tp in held if (consumer, tp) in nexts]
        # Behind with nothing in the handler: the age is the timestamp of the record at the next position.
        waiting = {tp: nexts[c, tp] for _, c, tp in held if (c, tp) not in ages and log_ends[tp] > nexts[c, tp]}
        stamps = await self._ends.timestamps(waiting, timeout=self._timeout) if waiting else {}
        committed = await self._committed(held)
        reported: set[Labels] = set()
        for group, consumer, tp in held:
            labels = (group, tp.topic, str(tp.partition))
            behind = max(log_ends[tp] - nexts[consumer, tp], 0)
            age = ages.get((consumer, tp))
            if age is None:
                stamp = stamps.get(tp)
                age = max(now_ms - stamp, 0.0) / 1000 if behind and stamp is not None else 0.0
            self.lag_messages.labels(*labels).set(behind)
            self.lag_seconds.labels(*labels).set(age)
            self.end_offset.labels(*labels).set(log_ends[tp])
            if (consumer, tp) in committed:
                self.committed_offset.labels(*labels).set(committed[consumer, tp])
            reported.add(labels)
        self._forget_all_but(reported)

    async def _committed(
        self, held: Iterable[tuple[str, AIOKafkaConsumer, TopicPartition]]
    ) -> dict[tuple[AIOKafkaConsumer, TopicPartition], int]:
        # One OffsetFetch per partition (aiokafka asks for one at a time), all at once. A partition whose
        # answer does not come (a rebalance under way) keeps its last value until the next refresh.
        keys = [(consumer, tp) for _, consumer, tp in held]
        answers = await asyncio.gather(
            *(asyncio.wait_for(consumer.committed(tp), self._timeout) for consumer, tp in keys), return_exceptions=True
        )
        return {key: answer or 0 for key, answer in zip(keys, answers, strict=True)
                if not isinstance(answer, BaseException)}

    def _forget_all_but(self, reported: set[Labels]) -> None:
        for labels in self._reported - reported:
            for gauge in (self.lag_messages, self.lag_seconds, self.end_offset, self.committed_offset):
                with suppress(KeyError):  # a committed offset never read is not there
                    gauge.remove(*labels)
        self._reported = reported
