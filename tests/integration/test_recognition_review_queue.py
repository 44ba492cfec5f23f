"""The recognition review queue's locking on the real PostgreSQL (adapters/recognition_reviews.py): a re-evaluation
never postpones a wake-up it does not hold, never waits on a row another transaction holds, and workers skip each
other's rows. Against licensure's own database of the running platform, with teachers of this test alone.

Every row here is due in 2099 and every ``due`` asks as of 2100, so licensure's own review task (asking as of
now) never takes them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from microcred.devstack.platform import Platform
from microcred.licensure.adapters.recognition_reviews import RecognitionReviewRepository, RecognitionReviewRow

pytestmark = pytest.mark.stack

DUE = datetime(2099, 1, 1, tzinfo=UTC)
LATER = datetime(2099, 6, 1, tzinfo=UTC)
ASKED = datetime(2100, 1, 1, tzinfo=UTC)
# A statement that waits on another transaction's row lock would hit this; one that skips returns at once.
NO_WAITING = 5.0


@pytest.fixture
async def sessions(platform: Platform) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = create_async_engine(platform.endpoints.database_url("licensure"))
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
def teachers() -> list[str]:
    return [f"queue-test-{uuid.uuid4().hex[:8]}-{n}" for n in range(2)]


async def due_at(sessions: async_sessionmaker[AsyncSession], teacher: str) -> datetime | None:
    async with sessions() as session:
        return await RecognitionReviewRepository(session).due_at(teacher)


async def put(sessions: async_sessionmaker[AsyncSession], teacher: str, due: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(sa.insert(RecognitionReviewRow).values(teacher_id=teacher, due_at=due))


async def remove(sessions: async_sessionmaker[AsyncSession], names: list[str]) -> None:
    async with sessions.begin() as session:
        await session.execute(sa.delete(RecognitionReviewRow).where(RecognitionReviewRow.teacher_id.in_(names)))


async def test_a_reevaluation_that_does_not_hold_the_row_never_postpones_a_wake_up(
        sessions: async_sessionmaker[AsyncSession], teachers: list[str]) -> None:
    teacher = teachers[0]
    try:
        async with sessions.begin() as session:
            reviews = RecognitionReviewRepository(session)
            assert await reviews.hold(teacher) is False  # no row yet: the facts are read without it
            await put(sessions, teacher, DUE)  # meanwhile a stack change enqueues the teacher and commits
            await reviews.schedule(teacher, LATER, held=False)
        assert await due_at(sessions, teacher) == DUE  # the wake-up stands

        async with sessions.begin() as session:  # held: the next due date is this evaluation's to set
            reviews = RecognitionReviewRepository(session)
            assert await reviews.hold(teacher) is True
            await reviews.schedule(teacher, LATER, held=True)
        assert await due_at(sessions, teacher) == LATER
        async with sessions.begin() as session:
            reviews = RecognitionReviewRepository(session)
            assert await reviews.hold(teacher) is True
            await reviews.schedule(teacher, None, held=True)  # nothing more can change by time: gone
        assert await due_at(sessions, teacher) is None
    finally:
        await remove(sessions, teachers)


async def test_a_reevaluation_neither_waits_on_nor_moves_a_row_a_worker_holds(
        sessions: async_sessionmaker[AsyncSession], teachers: list[str]) -> None:
    teacher = teachers[0]
    await put(sessions, teacher, DUE)
    try:
        async with sessions() as worker_session, worker_session.begin():
            worker = RecognitionReviewRepository(worker_session)
            assert teacher in await worker.due(ASKED, 10_000)
            async with sessions.begin() as session:
                reviews = RecognitionReviewRepository(session)
                assert await asyncio.wait_for(reviews.hold(teacher), NO_WAITING) is False
                await asyncio.wait_for(reviews.schedule(teacher, LATER, held=False), NO_WAITING)
            # The worker re-evaluates after that commit (it waits on the teacher's lock) and sets the date.
            assert await worker.hold(teacher) is True  # its own lock
            await worker.schedule(teacher, LATER, held=True)
        assert await due_at(sessions, teacher) == LATER
    finally:
        await remove(sessions, teachers)


async def test_workers_skip_each_others_rows(sessions: async_sessionmaker[AsyncSession], teachers: list[str]) -> None:
    for teacher in teachers:
        await put(sessions, teacher, DUE)
    try:
        async with sessions() as first_session, first_session.begin():
            first = await RecognitionReviewRepository(first_session).due(ASKED, 10_000)
            assert set(teachers) <= set(first)
            async with sessions() as second_session, second_session.begin():
                second = await asyncio.wait_for(RecognitionReviewRepository(second_session).due(ASKED, 10_000),
                                                NO_WAITING)
                assert not set(teachers) & set(second)
    finally:
        await remove(sessions, teachers)


async def test_a_teacher_set_aside_after_a_failed_review_is_due_again_only_then(
        sessions: async_sessionmaker[AsyncSession], teachers: list[str]) -> None:
    failing, other = teachers
    try:
        await put(sessions, failing, DUE)
        await put(sessions, other, DUE)
        async with sessions.begin() as session:
            await RecognitionReviewRepository(session).postpone(failing, LATER)
        assert await due_at(sessions, failing) == LATER and await due_at(sessions, other) == DUE
        async with sessions.begin() as session:
            taken = await RecognitionReviewRepository(session).due(datetime(2099, 3, 1, tzinfo=UTC), 10_000)
            assert [t for t in taken if t in teachers] == [other]  # other tests' teachers may be due too
    finally:
        await remove(sessions, teachers)
