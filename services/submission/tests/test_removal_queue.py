"""The queue of sealed items' uploads: removed together, each once, and never retried by the queue itself (the
stray-upload sweep is what finds a batch the store refused; test_uploads covers it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest

from microcred.submission.adapters.removal_queue import RemovalQueue


async def test_the_keys_queued_go_in_one_call_each_once() -> None:
    calls: list[list[str]] = []

    async def remove_many(keys: Sequence[str]) -> None:
        calls.append(list(keys))

    queue = RemovalQueue(remove_many)
    for key in ["a", "b", "a", "c"]:
        queue.add(key)
    assert len(queue) == 3
    assert await queue.flush() == 3 and calls == [["a", "b", "c"]]
    assert await queue.flush() == 0 and len(calls) == 1, "an empty queue sends nothing"


async def test_a_refused_batch_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    async def remove_many(keys: Sequence[str]) -> None:
        raise ConnectionError("the store is away")

    queue = RemovalQueue(remove_many)
    queue.add("a")
    with caplog.at_level(logging.WARNING):
        assert await queue.flush() == 0
    assert len(queue) == 0 and "stray-upload sweep" in caplog.text


async def test_the_loop_flushes_on_its_interval() -> None:
    removed: list[str] = []

    async def remove_many(keys: Sequence[str]) -> None:
        removed.extend(keys)

    queue = RemovalQueue(remove_many)
    running = asyncio.create_task(queue.run(0.01))
    queue.add("a")
    for _ in range(200):
        if removed:
            break
        await asyncio.sleep(0.01)
    running.cancel()
    assert removed == ["a"]
