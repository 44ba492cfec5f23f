"""Draining the recognition review queue: teachers whose standing time alone may have changed, or whose
stack or pathway the catalog changed (adapters.recognition_reviews keeps the queue).

One bounded batch per transaction: the due teachers are taken with SKIP LOCKED (another replica takes
others), each re-evaluated under the teacher's lock as an award would be, which also sets their next due
date (or drops them when only a new fact can change their standing). The entries and events of the batch
commit together with the new due dates, or not at all, and are then retried whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import uuid4

from microcred.licensure.domain.recognition import Program
from microcred.licensure.service_layer import recognitions
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork


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
