"""Timed work: the evidence sweep (retention purge and orphaned uploads) every ``interval`` seconds, and
the bucket's rule for abandoned multipart uploads, set once at start-up.

It runs in the service process from the app's lifespan; every replica runs it, which is safe because
each item is handled under its submission's row lock and re-checked there, and deleting what is
already gone is no error. A failed run is logged and retried at the next tick, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from microcred.submission.adapters.evidence_store import LifecycleRefused
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


async def keep_abandoned_upload_rule(
    ensure: Callable[[int], Awaitable[bool]], days: int, *, retry_seconds: float = 5.0, max_retry_seconds: float = 300.0
) -> None:
    """Set the bucket's abandoned-upload rule once, waiting out a store that is away (ADR 6).

    A store or credentials that refuse it do not stop the service: its own orphan sweep still aborts the
    uploads it started. The warning says what to grant, or to leave the rule to the bucket's owner.
    """
    delay = retry_seconds
    while True:
        try:
            changed = await ensure(days)
        except LifecycleRefused as refused:
            log.warning(
                "the object store refused the abandoned-upload lifecycle rule (%s): grant the service "
                "s3:GetLifecycleConfiguration and s3:PutLifecycleConfiguration on its bucket, or set "
                "MICROCRED_S3_ABORT_INCOMPLETE_UPLOAD_DAYS= and let the bucket's owner keep the rule",
                refused.code,
            )
            return
        except Exception as exc:
            log.warning("setting the abandoned-upload lifecycle rule failed (%s: %s); retrying in %.0f s",
                        type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_retry_seconds)
            continue
        log.info("abandoned-upload lifecycle rule %s", "set" if changed else "already in place",
                 extra={"days": days})
        return
