"""Reading topics as an outside reader does (a state agency, a test's check): no group, from the beginning.

``read_to_end`` reads up to each partition's end as it was when called, so what it returns is everything
published by then, with no fixed wait to guess; ``read_until`` repeats it while the records a check waits for
are still on their way.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from microcred.runtime.offsets import LogEnds

Records = list[dict[str, Any]]


def read_to_end(bootstrap: str, topics: list[str], timeout: float = 60.0) -> dict[str, Records]:
    """Every JSON record of ``topics`` (duplicates included), up to the logs' ends when called."""

    async def read() -> dict[str, Records]:
        async with LogEnds(bootstrap) as log_ends:
            ends = await log_ends.read(await log_ends.partitions(topics))
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        found: dict[str, Records] = {topic: [] for topic in topics}
        try:
            consumer.assign(list(ends))
            await consumer.seek_to_beginning(*ends)
            deadline = time.monotonic() + timeout
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{topics} not read to their ends {ends} within {timeout} s")
                for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                    found[tp.topic] += [json.loads(r.value) for r in batch if r.offset < ends[tp]]
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def read_until(bootstrap: str, topic: str, until: Callable[[Records], bool], timeout: float = 45.0) -> Records:
    """Everything on ``topic`` once ``until(records)`` holds, or at ``timeout`` (the caller's assertion says what
    was missing)."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_to_end(bootstrap, [topic])[topic]
        if until(records) or time.monotonic() > deadline:
            return records
        time.sleep(0.5)
