"""The read-only use cases send no BEGIN and no ROLLBACK (``UnitOfWork.without_transaction``), on the embedded
PostgreSQL: a teacher's view of a submission and their list are what the clients poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from submission_fakes import CRITERIA

from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import NotFound
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, migrated_engine
from microcred.submission.adapters.metrics import SubmissionMetrics
from microcred.submission.adapters.orm import messaging
from microcred.submission.domain.model import PublishedCredential
from microcred.submission.service_layer import handlers
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork

TEACHER = Principal(subject="teacher-1", roles=frozenset({Role.TEACHER}), states=("TN",))


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("submission-reads-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, "microcred.submission:migrations") as engine:
        yield engine


@pytest.fixture
def uow(engine: AsyncEngine) -> SubmissionUnitOfWork:
    return SubmissionUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging, "submission",
                                metrics=SubmissionMetrics())


async def test_a_submission_its_list_and_the_gauge_are_read_without_begin_or_rollback(
        engine: AsyncEngine, uow: SubmissionUnitOfWork) -> None:
    credential = PublishedCredential(credential_id=uuid4(), version=1, name="Formative assessment",
                                     submission_criteria=CRITERIA)
    async with uow:
        await uow.credentials.add(credential, datetime.now(UTC))
        await uow.commit()
    started = await handlers.start_submission(handlers.StartSubmission(credential_id=credential.credential_id),
                                              TEACHER, uow)
    async with SentStatements(engine) as sent:
        async with uow:  # the control: a unit of work that keeps its transaction sends BEGIN and ROLLBACK
            await uow.submissions.get(started.submission_id)
        assert SentStatements.transaction_control(await sent.read()) == ["BEGIN", "ROLLBACK"]
        submission, _ = await handlers.get_submission(started.submission_id, TEACHER, uow)
        listed = await handlers.list_submissions(TEACHER, uow, limit=10, offset=0)
        with pytest.raises(NotFound):
            await handlers.get_submission(uuid4(), TEACHER, uow)
        await handlers.refresh_gauges(uow)
        reads = await sent.read()
    assert submission.submission_id == started.submission_id
    assert [s.submission_id for s in listed] == [started.submission_id]
    assert len(reads) == 4  # one statement per read, and nothing around them
    assert SentStatements.transaction_control(reads) == []
