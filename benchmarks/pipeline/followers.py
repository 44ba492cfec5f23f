"""Following the platform's events: one plain consumer per topic, read from the start, feeding the run."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaConsumer

from pipeline import now
from pipeline.players import Run

FOLLOWED = ("submission.submitted", "review.assigned", "review.scored", "review.revise-requested",
            "award.awarded", "licensure.credit-posted")


async def follow(bootstrap: str, topic: str, run: Run, ready: asyncio.Event) -> None:
    """Reads ``topic`` from its start with no consumer group: every partition, no rebalance, no commits."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    ready.set()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            read = now()
            for records in batches.values():
                for record in records:
                    try:
                        value = json.loads(record.value)
                    except (TypeError, ValueError):
                        continue
                    # The broker's timestamp when it has one (the relay's producer stamps CreateTime).
                    at = record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else read
                    if isinstance(value, dict):
                        run.on_event(topic, value, at, read, len(record.value or b""))
    finally:
        await consumer.stop()
