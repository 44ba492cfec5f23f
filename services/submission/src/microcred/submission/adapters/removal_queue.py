"""Objects to delete, gathered for a few seconds and removed together: one DeleteObjects request for the batch
instead of a DELETE each.

What is queued here is garbage the moment it is queued: the upload of an item whose bytes are sealed under
another key, which nothing reads again (``Evidence.needs_upload_key``). Deleting it a few seconds later changes
nothing for anyone; sending one request per batch spares the service nearly all of its work per key and the
store some (measured on SeaweedFS, three runs: 0.43-0.70 ms of its CPU per key in a batch of 100 against
0.60-0.90 ms for a DELETE alone, and 0.02-0.03 ms of the client's against 0.44-0.61;
``benchmarks/object_store_costs.py``), and the teacher's completion one request.

Nothing is lost when the queue is: a key left behind by a crash, or by a store that refused the batch, is an
object at an upload key that its item no longer needs, which the stray-upload sweep removes
(``evidence_retention.remove_stray_uploads``). A stopping service removes what it holds before it closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)


class RemovalQueue:
    """Keys waiting for the next batched removal, and the loop that removes them."""

    def __init__(self, remove_many: Callable[[Sequence[str]], Awaitable[None]]) -> None:
        self._remove_many = remove_many
        # A set in arrival order: the same key queued twice is deleted once.
        self._keys: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, object_key: str) -> None:
        self._keys[object_key] = None

    async def flush(self) -> int:
        """Remove every key queued so far; how many were removed (0 when the store refused, which is logged)."""
        keys = list(self._keys)
        self._keys.clear()
        if not keys:
            return 0
        try:
            await self._remove_many(keys)
        except Exception:
            # Not retried here: a store that is away would only grow the queue. The sweep finds them.
            log.warning("could not remove %d uploads of sealed evidence; the stray-upload sweep will", len(keys),
                        exc_info=True)
            return 0
        return len(keys)

    async def run(self, interval_seconds: float) -> None:
        """Flush every ``interval_seconds`` for as long as the service runs."""
        while True:
            await asyncio.sleep(interval_seconds)
            await self.flush()
