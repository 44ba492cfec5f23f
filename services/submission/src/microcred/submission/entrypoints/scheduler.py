"""Timed work: the evidence sweep (retention purge and orphaned uploads) every ``interval`` seconds.

It runs in the service process from the app's lifespan; every replica runs it, which is safe because
each item is handled under its submission's row lock and re-checked there, and deleting what is
already gone is no error. A failed run is logged and retried at the next tick, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from microcred.submission.service_layer import evidence_retention
from microcred.submission.service_layer.storage import EvidenceStorage, RetentionPolicy
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork

log = logging.getLogger(__name__)


async def run_sweeps(
    uow: Callable[[], SubmissionUnitOfWork],
    store: EvidenceStorage,
    policy: RetentionPolicy,
    interval: float,
    *,
    first_delay: float = 30.0,
) -> None:
    # The first run waits a little: a starting replica should serve before it sweeps.
    await asyncio.sleep(min(first_delay, interval))
    while True:
        try:
            await evidence_retention.sweep(uow, store, policy)
        except Exception:
            log.exception("evidence sweep failed; retrying at the next interval")
        await asyncio.sleep(interval)
