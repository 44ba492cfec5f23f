"""The recognition review queue: when each teacher's standing may next change by time alone.

One row per teacher, ``due_at`` the earliest instant the domain says time may change their standing
(domain.recognition.review), or now when a catalog change touched a credential they hold. Rows are taken
due-first with SKIP LOCKED, so several licensure replicas drain the queue in bounded batches without
waiting on each other.

Lost wake-ups are what the locking below prevents. A re-evaluation sets the teacher's next due date
from the facts it read; a stack change enqueuing the teacher "due now" meanwhile must not be overwritten
by that later date. So a re-evaluation first tries to lock the teacher's row (:meth:`hold`): when it
holds the row, a concurrent enqueue waits for it to commit and then brings the date forward again
(``least``); when it does not (the row is absent, or a worker or an enqueue holds it), it only inserts a
missing row and never moves a date. So it never waits on a row lock while it holds the teacher's lock,
and the worker, which locks its rows first and then each teacher, cannot deadlock with it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from microcred.licensure.adapters.orm import AwardRow, Base
from microcred.runtime.direct import direct_of


class RecognitionReviewRow(Base):
    """Migration 0011."""

    __tablename__ = "recognition_reviews"
    __table_args__ = (sa.Index("ix_recognition_reviews_due_at", "due_at"),)

    teacher_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    due_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


# The statements of every award's re-evaluation (hold, schedule) on the table, sent past the session
# (runtime.direct): the ORM's DML plumbing and its walk of the identity map after an UPDATE cost more than the
# statements, and no review row is ever loaded.
_REVIEWS = cast(sa.Table, RecognitionReviewRow.__table__)
# Built once so each cache key is computed once (as in adapters/statements.py). The UPDATE's WHERE bind is not
# named after a column: that name is reserved for the column's SET.
_HOLD = sa.select(_REVIEWS.c.teacher_id).where(_REVIEWS.c.teacher_id == sa.bindparam("teacher_id")).with_for_update(
    skip_locked=True)
_DELETE = sa.delete(_REVIEWS).where(_REVIEWS.c.teacher_id == sa.bindparam("teacher_id"))
_RESCHEDULE = sa.update(_REVIEWS).where(_REVIEWS.c.teacher_id == sa.bindparam("target_teacher_id")).values(
    due_at=sa.bindparam("due_at"))
_INSERT_MISSING = insert(_REVIEWS).values(teacher_id=sa.bindparam("teacher_id"), due_at=sa.bindparam("due_at")
                                          ).on_conflict_do_nothing(index_elements=[_REVIEWS.c.teacher_id])


class RecognitionReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def hold(self, teacher_id: str) -> bool:
        """Lock the teacher's row if it exists and nobody else holds it; True then (and for a row this
        transaction already holds, as the worker's)."""
        found = await direct_of(self.session).scalar(_HOLD, {"teacher_id": teacher_id})
        return found is not None

    async def schedule(self, teacher_id: str, due_at: datetime | None, *, held: bool) -> None:
        """The teacher's next due date after a re-evaluation; None: only a new fact can change their standing.
        Without the row held, only a missing row is added (see the module's note)."""
        past = direct_of(self.session)
        if held and due_at is None:
            await past.execute(_DELETE, {"teacher_id": teacher_id})
        elif held:
            await past.execute(_RESCHEDULE, {"target_teacher_id": teacher_id, "due_at": due_at})
        elif due_at is not None:
            await past.execute(_INSERT_MISSING, {"teacher_id": teacher_id, "due_at": due_at})

    async def enqueue_holders(self, credential_ids: Collection[UUID], at: datetime) -> int:
        """Every teacher holding one of the credentials, due at ``at`` (or earlier, if already so): one
        statement however many teachers, in teacher order so two such enqueues cannot deadlock."""
        if not credential_ids:
            return 0
        row = RecognitionReviewRow
        holders = (sa.select(AwardRow.teacher_id, sa.cast(sa.literal(at), sa.DateTime(timezone=True)))
                   .where(AwardRow.credential_id.in_(list(credential_ids))).distinct().order_by(AwardRow.teacher_id))
        statement = insert(row).from_select(["teacher_id", "due_at"], holders)
        statement = statement.on_conflict_do_update(
            index_elements=[row.teacher_id], set_={"due_at": sa.func.least(row.due_at, statement.excluded.due_at)})
        result = await self.session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Up to ``limit`` teachers due by ``now``, earliest first, locked for this transaction; rows another
        worker holds are skipped, not waited for."""
        query = (sa.select(RecognitionReviewRow.teacher_id).where(RecognitionReviewRow.due_at <= now)
                 .order_by(RecognitionReviewRow.due_at, RecognitionReviewRow.teacher_id).limit(limit)
                 .with_for_update(skip_locked=True))
        return list(await self.session.scalars(query))

    async def postpone(self, teacher_id: str, until: datetime) -> None:
        """Set a teacher aside whose review failed: due again at ``until``, unless something brings it forward."""
        row = RecognitionReviewRow
        await self.session.execute(sa.update(row).where(row.teacher_id == teacher_id).values(due_at=until))

    async def due_at(self, teacher_id: str) -> datetime | None:
        return await self.session.scalar(
            sa.select(RecognitionReviewRow.due_at).where(RecognitionReviewRow.teacher_id == teacher_id))
