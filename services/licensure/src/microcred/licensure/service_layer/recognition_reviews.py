"""Draining the recognition review queue: teachers whose standing time alone may have changed, or whose
stack or pathway the catalog changed (adapters.recognition_reviews keeps the queue).

One bounded batch per transaction: the due teachers are taken with SKIP LOCKED (another replica takes
others), each re-evaluated under the teacher's lock as an award would be, which also sets their next due
date (or drops them when only a new fact can change their standing). The entries and events of the batch
commit together with the new due dates, or not at all.

A batch that fails is not simply retried whole: one teacher whose evaluation fails every time (facts a
program did not foresee, a bug) would fail every batch they are in and hold up the queue behind them. So
the caller then reviews the batch's teachers one transaction each (:func:`review_each`), and sets aside the
one that fails, logged, until ``retry_after`` later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from microcred.licensure.domain.recognition import Program
from microcred.licensure.service_layer import recognitions
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork

log = logging.getLogger(__name__)


async def review_due(uow: LicensureUnitOfWork, programs: Sequence[Program], *, now: datetime | None = None,
                     limit: int = 100) -> int:
    """Re-evaluate up to ``limit`` teachers due by ``now``; how many were taken (``limit`` means more may wait)."""
    now = now or datetime.now(UTC)
    async with uow:
        teachers = await uow.reviews.due(now, limit)
        members = await uow.memberships.current() if teachers else None
        for teacher_id in teachers:
            await uow.licenses.lock_teacher(teacher_id)
            # No event caused this: each teacher's changes get a correlation id of their own to be traced by.
            await recognitions.reevaluate(uow, teacher_id, programs, correlation_id=uuid4(), causation_id=None,
                                          now=now, memberships=members)
            if not programs:
                await uow.reviews.schedule(teacher_id, None, held=True)  # nothing can ever change: drop the row
        await uow.commit()
    return len(teachers)


async def review_each(make_uow: Callable[[], LicensureUnitOfWork], programs: Sequence[Program], *,
                      now: datetime | None = None, limit: int = 100, retry_after: timedelta = timedelta(hours=1)
                      ) -> int:
    """After a batch failed: up to ``limit`` due teachers, one transaction each; a teacher whose review fails
    is logged and set aside until ``now + retry_after``, so the others go on. How many were taken."""
    now = now or datetime.now(UTC)
    listing = make_uow()
    async with listing:
        teachers = await listing.reviews.due(now, limit)  # released at the end of this block: each is taken alone
    for teacher_id in teachers:
        try:
            await _review_one(make_uow(), teacher_id, programs, now)
        except Exception:
            log.exception("recognition review of teacher %s failed; set aside until %s", teacher_id, now + retry_after)
            aside = make_uow()
            async with aside:
                await aside.reviews.postpone(teacher_id, now + retry_after)
                await aside.commit()
    return len(teachers)


async def _review_one(uow: LicensureUnitOfWork, teacher_id: str, programs: Sequence[Program], now: datetime) -> None:
    async with uow:
        if not await uow.reviews.hold(teacher_id):
            return  # another replica is reviewing them, or an award's evaluation meanwhile dropped the row
        await uow.licenses.lock_teacher(teacher_id)
        await recognitions.reevaluate(uow, teacher_id, programs, correlation_id=uuid4(), causation_id=None, now=now)
        if not programs:
            await uow.reviews.schedule(teacher_id, None, held=True)
        await uow.commit()
