"""Consumer groups for tests on the platform's shared topics: started at the topic's end, and settled before the test's
own deadline runs.

A group new to the broker reads a topic from its first record (``auto_offset_reset="earliest"``, what a new service
needs). On the test platform's shared topics that is every record the tests before left there, each handled before
the test's own, and some made to fail: another test's poison message fails a batch of ``test_consumer_batches``.
Committing the group's offsets at the current ends first, as an operator resets a group, leaves it exactly the
records produced afterwards.

A new group's first join takes the broker about 5 s here; on a busy machine more, and a member joining late starts
another round. A test that waits for its group to hold every partition before its own deadline starts measures the
handling alone, and a group that never settles fails saying so.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata

from microcred.events.topics import consumer_group
from microcred.runtime.offsets import LogEnds


async def start_at_log_end(bootstrap: str, group_id: str, topic: str) -> None:
    """Commit ``subscribe``'s group of ``group_id`` on ``topic`` at each partition's end (no member joins)."""
    async with LogEnds(bootstrap) as log_ends:
        ends = await log_ends.read(await log_ends.partitions([topic]))
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=consumer_group(group_id, topic),
                                 enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign(list(ends))
        await committer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
        for tp, end in ends.items():  # read back: a broker that dropped the commit would leave the group at 0
            assert await committer.committed(tp) == end, (tp, end)
    finally:
        await committer.stop()


async def every_partition_assigned(broker: Any, topic: str, timeout: float = 120.0) -> None:
    """Until the consumers of a started ``create_broker`` broker hold every partition of ``topic`` between them."""
    policy = broker.consumer_policy
    deadline = time.monotonic() + timeout
    while True:
        consumers = [consumer for _, consumer in policy.consumers()]
        wanted = consumers[0].partitions_for_topic(topic) if consumers else None
        held = {tp.partition for consumer in consumers for tp in consumer.assignment() if tp.topic == topic}
        if wanted and held >= wanted:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the group held partitions {sorted(held)} of {topic} after {timeout:.0f}s, "
                                 f"not all of {sorted(wanted or ())}")
        await asyncio.sleep(0.1)
