"""The read-only use cases send no BEGIN and no ROLLBACK (``UnitOfWork.without_transaction``), on the embedded
PostgreSQL: the pending credits a district admin polls, a teacher's progress and recognitions, the reports, the
webhook lists and the gauges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from microcred.licensure.adapters.orm import messaging
from microcred.licensure.service_layer import handlers, recognition_decisions, recognition_queries, webhooks
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import NotFound
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, migrated_engine

OPERATOR = Principal(subject="operator-1", roles=frozenset({Role.OPERATOR}))
TEACHER = Principal(subject="teacher-1", roles=frozenset({Role.TEACHER}), states=("TN",))


@pytest.fixture(scope="module")
def socket_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("licensure-reads-pg"))


@pytest.fixture
async def engine(socket_dir: str) -> AsyncIterator[AsyncEngine]:
    async with migrated_engine(socket_dir, "microcred.licensure:migrations") as engine:
        yield engine


@pytest.fixture
def uow(engine: AsyncEngine) -> LicensureUnitOfWork:
    return LicensureUnitOfWork(async_sessionmaker(engine, expire_on_commit=False), messaging, "licensure")


async def test_the_read_only_use_cases_send_no_begin_or_rollback(engine: AsyncEngine, uow: LicensureUnitOfWork) -> None:
    async with SentStatements(engine) as sent:
        async with uow:  # the control: a unit of work that keeps its transaction sends BEGIN and ROLLBACK
            await uow.claims.pending("TN", None, 10, 0)
        assert SentStatements.transaction_control(await sent.read()) == ["BEGIN", "ROLLBACK"]

        assert await handlers.pending_credits("TN", None, OPERATOR, uow, limit=10, offset=0) == []
        with pytest.raises(NotFound):
            await handlers.license_progress(uuid4(), TEACHER, uow)
        assert await handlers.state_report("TN", date(2026, 1, 1), date(2026, 12, 31), OPERATOR, uow) == []
        await handlers.competency_report("TN", None, OPERATOR, uow)
        await handlers.refresh_gauges(uow)
        assert await recognition_queries.my_recognitions(TEACHER, uow, []) == []
        assert await recognition_queries.programs_in_words(uow, [], "TN", None) == []
        assert await recognition_decisions.pending_recognitions("TN", None, OPERATOR, uow, [], limit=10,
                                                                offset=0) == []
        assert await webhooks.list_subscriptions(None, OPERATOR, uow) == []
        with pytest.raises(NotFound):
            await webhooks.list_deliveries(uuid4(), None, OPERATOR, uow)
        reads = await sent.read()
    assert len(reads) >= 10  # the statements were seen, and nothing around them:
    assert SentStatements.transaction_control(reads) == []
