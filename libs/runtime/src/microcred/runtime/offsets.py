"""Where a partition's log really ends, and how far a consumer group is behind it.

Consumer lag is the log's end minus the group's committed offset. The usual end, ListOffsets(latest)
(aiokafka's ``end_offsets``), cannot be trusted on Tansu 0.6.0, measured here:

- with its log in S3 it answers the base offset + 1 of the batch object with the newest last-modified
  time; S3 times have one-second resolution and a tie goes to the lowest offset, so the answer falls
  behind by everything written in the last second of writes (17 records in four batches within a second
  read as an end of 1);
- with its log in memory it answers the last batch's base offset + 1, behind by up to a batch.

A Fetch response carries the partition's high watermark, which Tansu keeps exactly (it hands out offsets
from it), as Apache Kafka does. :class:`LogEnds` reads the ends that way: it seeks a group-less consumer to
the listed end (never past the real one) and takes the high watermark of the fetch that follows. On a
broker whose ListOffsets is right this costs one empty fetch per partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, TopicPartition


class LogEnds:
    """Reads the real end offset (the offset the next record will get) of partitions, with one consumer.

    Build it with the platform's client options, servers and security together:
    ``LogEnds(**kafka_client_options(settings))``. Use as an async context manager, or call :meth:`start`
    and :meth:`stop`.
    """

    def __init__(self, bootstrap_servers: str, **client_options: Any) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_options = client_options
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False,
            # Only the fetch's high watermark is wanted; the broker still sends at least one batch.
            max_partition_fetch_bytes=1024, fetch_max_wait_ms=50, **client_options,
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def partitions(self, topics: Iterable[str] | None = None) -> list[TopicPartition]:
        """Every partition of ``topics`` (default: every topic the broker lists), in a stable order."""
        # A consumer of its own: once a consumer has an assignment, aiokafka keeps the metadata of the assigned
        # topics only, and partitions_for_topic() answers None for the others.
        lister = AIOKafkaConsumer(bootstrap_servers=self._bootstrap_servers, **self._client_options)
        await lister.start()
        try:
            known = await lister.topics()
            names = sorted(known if topics is None else set(topics) & known)
            return [TopicPartition(t, p) for t in names for p in sorted(lister.partitions_for_topic(t) or ())]
        finally:
            await lister.stop()

    async def starts(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The first offset each partition still holds (ListOffsets(earliest), which Tansu answers right)."""
        wanted = list(partitions)
        return dict(await self._consumer.beginning_offsets(wanted)) if wanted else {}

    async def read(self, partitions: Iterable[TopicPartition], timeout: float = 10.0) -> dict[TopicPartition, int]:
        wanted = list(partitions)
        if not wanted:
            return {}
        consumer = self._consumer
        listed = await consumer.end_offsets(wanted)
        consumer.assign(wanted)  # a fresh assignment: no high watermark left from an earlier read
        for tp in wanted:
            consumer.seek(tp, listed[tp])
        ends: dict[TopicPartition, int] = {}
        deadline = asyncio.get_running_loop().time() + timeout
        while len(ends) < len(wanted):
            pending = [tp for tp in wanted if tp not in ends]
            await consumer.getmany(*pending, timeout_ms=100)
            for tp in pending:
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    ends[tp] = max(highwater, listed[tp])
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no fetch answered for {sorted(map(str, set(wanted) - set(ends)))}")
        # Paused, not unassigned: no fetches between reads, and aiokafka's stop() waits for ever on a fetcher
        # left with an empty assignment (seen here).
        consumer.pause(*wanted)
        return ends

    async def timestamps(self, positions: Mapping[TopicPartition, int], timeout: float = 10.0) -> dict[TopicPartition, int]:
        """The timestamp (ms) of the record at each partition's given offset, where the log holds one.

        The consumer lag monitor asks this of partitions behind with no record in a handler, to tell how old
        their oldest unhandled record is; a fetch brings at least one batch, so it costs one small fetch.
        """
        consumer = self._consumer
        wanted = list(positions)
        consumer.assign(wanted)
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
        found: dict[TopicPartition, int] = {}
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < len(wanted) and asyncio.get_running_loop().time() < deadline:
            pending = [tp for tp in wanted if tp not in found]
            for tp, records in (await consumer.getmany(*pending, timeout_ms=100)).items():
                first = next((r for r in records if r.offset >= positions[tp]), None)
                if first is not None:
                    found[tp] = first.timestamp
        consumer.pause(*wanted)
        return found


async def committed_offsets(
    bootstrap_servers: str, group: str, partitions: Iterable[TopicPartition], **client_options: Any
) -> dict[TopicPartition, int]:
    """The group's committed offset of each partition (0 where it committed none).

    Read through a consumer carrying the group's id that never subscribes, so it never joins the group
    and never disturbs its members (the admin client's OffsetFetch replies from Tansu fail to decode in
    aiokafka, and Tansu does not answer ListGroups). Called as
    ``committed_offsets(group=..., partitions=..., **kafka_client_options(settings))``.
    """
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False,
                              **client_options)
    await reader.start()
    try:
        return {tp: await reader.committed(tp) or 0 for tp in partitions}
    finally:
        await reader.stop()


def lag(ends: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
    """Records each partition's group has yet to handle."""
    return {tp: max(end - committed.get(tp, 0), 0) for tp, end in ends.items()}
