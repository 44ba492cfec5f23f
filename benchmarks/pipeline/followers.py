"""Following the platform's events: one plain consumer over every followed topic, read from the start, feeding
the run.

One consumer with the services' long poll (500 ms), not one per topic polling every 50 ms: Tansu's CPU goes by
partitions fetched, whether or not a fetch finds anything, and six followers at 50 ms cost it about 60 ms of CPU
a second, more than the services' own consumers (benchmarks/README.md, "Issue 22, third round"). The run's times
are the records' own timestamps (the relay's producer stamps CreateTime), so how soon a fetch returns moves none
of them; it only delays a revision's resubmission a little, as a teacher's reading of the feedback would.
"""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaConsumer

from pipeline import now
from pipeline.players import Run

FOLLOWED = ("submission.submitted", "review.assigned", "review.scored", "review.revise-requested",
            "award.awarded", "licensure.credit-posted")


async def follow(bootstrap: str, run: Run, ready: asyncio.Event) -> None:
    """Reads every followed topic from its start with no consumer group: every partition, no rebalance, no
    commits."""
    consumer = AIOKafkaConsumer(*FOLLOWED, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=500)
    await consumer.start()
    ready.set()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            read = now()
            for partition, records in batches.items():
                for record in records:
                    try:
                        value = json.loads(record.value)
                    except (TypeError, ValueError):
                        continue
                    # The broker's timestamp when it has one (the relay's producer stamps CreateTime).
                    at = record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else read
                    if isinstance(value, dict):
                        run.on_event(partition.topic, value, at, read, len(record.value or b""))
    finally:
        await consumer.stop()
