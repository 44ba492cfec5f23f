"""A relay asked to stop stops, even when the pass it interrupts fails on the way out."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.relay import OutboxRelay


class CleanupFails(OutboxRelay):
    """A pass whose cleanup fails once it is cancelled: a rollback on a connection the database dropped."""

    started = asyncio.Event()
    interrupted = False

    async def publish_pending(self) -> int:
        if self.interrupted:  # later passes (a relay that went on) publish nothing and end quietly when cancelled
            await asyncio.sleep(0.05)
            return 0
        type(self).started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.interrupted = True
            raise ConnectionResetError("connection was closed in the middle of operation") from None
        return 0


async def test_a_cancellation_whose_cleanup_fails_still_stops_the_relay() -> None:
    relay = CleanupFails(None, define_messaging_tables(sa.MetaData()), None, service="t",  # type: ignore[arg-type]
                         registry=CollectorRegistry(), max_backoff=0.01)
    CleanupFails.started = asyncio.Event()
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(CleanupFails.started.wait(), 5)
    task.cancel()
    # asyncio.wait, not wait_for: a relay that swallowed the cancellation would also swallow wait_for's own.
    await asyncio.wait({task}, timeout=5)
    assert task.done(), "the relay went on after it was cancelled"
    with pytest.raises(asyncio.CancelledError):
        task.result()
    assert relay.failures._value.get() == 0  # not counted as a failed pass
