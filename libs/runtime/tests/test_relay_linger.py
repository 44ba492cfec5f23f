"""A relay woken by a commit lingers before its pass, so the commits of that moment share one pass."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.relay import OutboxRelay


class CountingRelay(OutboxRelay):
    """Publishes the rows "committed" so far in one pass, and notes how many each pass carried."""

    def __init__(self, linger: float) -> None:
        super().__init__(None, define_messaging_tables(sa.MetaData()), None, service="t",  # type: ignore[arg-type]
                         registry=CollectorRegistry(), poll_interval=5.0, linger=linger)
        self.unsent = 0  # type: ignore[assignment]
        self.passes: list[int] = []

    async def publish_pending(self) -> int:
        sent, self.unsent = self.unsent, 0  # type: ignore[has-type]
        if sent:
            self.passes.append(sent)
        return sent

    async def purge_published(self, batch: int = 10_000) -> int:
        return 0

    def commit(self) -> None:
        self.unsent += 1  # type: ignore[operator]
        self.wake()


async def three_commits_a_few_ms_apart(relay: CountingRelay) -> list[int]:
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.05)  # the first, empty pass is done: the relay waits for a wake-up
    for _ in range(3):
        relay.commit()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.wait({task})
    return relay.passes


async def test_commits_within_the_linger_are_published_in_one_pass() -> None:
    assert await three_commits_a_few_ms_apart(CountingRelay(linger=0.1)) == [3]


async def test_without_a_linger_each_commit_is_published_at_once() -> None:
    assert await three_commits_a_few_ms_apart(CountingRelay(linger=0.0)) == [1, 1, 1]
