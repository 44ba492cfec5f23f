"""Gauges read from the database, refreshed on a timer rather than on scrape.

A scrape then costs only the exposition, however large the tables grow, and a slow or failing query
never makes ``/metrics`` slow or fail: the gauges keep their last values and the next pass retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from microcred.runtime.cancellation import stop_if_cancelled

log = logging.getLogger(__name__)


async def refresh_periodically(refresh: Callable[[], Awaitable[None]], interval_seconds: float) -> None:
    """Call ``refresh`` now and then every ``interval_seconds`` until cancelled; a failed pass is logged."""
    while True:
        try:
            await refresh()
        except Exception as exc:
            stop_if_cancelled(exc)
            # Typically the database is unreachable for a moment; stale gauges beat a dead loop.
            log.exception("refreshing gauges from the database failed; retrying at the next interval")
        await asyncio.sleep(interval_seconds)
