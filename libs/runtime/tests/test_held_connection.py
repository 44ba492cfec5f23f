"""A unit of work's own pooled connection (runtime.held_connection), on a real PostgreSQL: statements past the
session and the session's own share one connection and one transaction, whichever comes first; what commits,
rolls back and reads back is what one session would have done; a lost or cancelled connection is never reused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from microcred.runtime.direct import direct_of
from microcred.runtime.held_connection import held_connection_of
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.outages import unavailable_dependency
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, engine_with_tables, new_database
from microcred.runtime.uow import UnitOfWork

METADATA = sa.MetaData()
TABLES = define_messaging_tables(METADATA)
NOTES = sa.Table("notes", METADATA, sa.Column("note_id", sa.Uuid, primary_key=True),
                 sa.Column("text", sa.Text, nullable=False))
INSERT_NOTE = NOTES.insert()
TXID = sa.select(sa.func.txid_current_if_assigned().label("txid"))
WRITE_TXID = sa.select(sa.func.txid_current().label("txid"))
ISOLATION = sa.select(sa.text("current_setting('transaction_isolation')"))


class Base(DeclarativeBase):
    metadata = METADATA


class Tag(Base):
    __tablename__ = "tags"
    tag_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    label: Mapped[str]


@pytest.fixture(scope="module")
def postgres_socket(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("held-pg"))


@pytest.fixture
async def engine(postgres_socket: str) -> AsyncIterator[AsyncEngine]:
    async with engine_with_tables(postgres_socket, METADATA, pool_size=2, max_overflow=0) as engine:
        yield engine


def unit_of_work(engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(async_sessionmaker(engine, expire_on_commit=False), TABLES, "held-test")


async def notes_and_tags(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    async with engine.connect() as connection:
        notes = set((await connection.execute(sa.select(NOTES.c.text))).scalars())
        tags = set((await connection.execute(sa.select(Tag.label))).scalars())
        return notes, tags


def kinds(sent: SentStatements) -> list[str]:
    return [statement.split()[0].upper() for statement in sent.sent]


async def test_a_unit_of_work_past_the_session_uses_one_pooled_connection_and_never_the_sessions(
    engine: AsyncEngine,
) -> None:
    async with SentStatements(engine) as sent, unit_of_work(engine) as uow:
        assert await uow.claim("held-test", uuid.uuid4())
        await direct_of(uow.session).execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "past"})
        await uow.commit()
        assert not uow.session.sync_session.in_transaction(), "the session's frame was never opened"
    assert kinds(sent) == ["BEGIN", "INSERT", "INSERT", "COMMIT"]
    assert await notes_and_tags(engine) == ({"past"}, set())
    assert engine.sync_engine.pool.checkedout() == 0, "back in the pool"


@pytest.mark.parametrize("first", ["past the session", "the session"])
async def test_statements_past_the_session_and_its_own_share_one_transaction_whichever_comes_first(
    engine: AsyncEngine, first: str,
) -> None:
    async with unit_of_work(engine) as uow:
        past, session = direct_of(uow.session), uow.session
        if first == "the session":
            txids = [(await session.execute(WRITE_TXID)).scalar_one(), await past.scalar(TXID)]
        else:
            txids = [await past.scalar(WRITE_TXID), (await session.execute(TXID)).scalar_one()]
        session.add(Tag(tag_id=uuid.uuid4(), label="orm"))
        await past.execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "past"})  # the ORM row flushed first
        await session.execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "session"})
        assert txids[0] == txids[1], "one transaction"
        assert engine.sync_engine.pool.checkedout() == 1, "one connection"
        await uow.commit()
    assert await notes_and_tags(engine) == ({"past", "session"}, {"orm"})


@pytest.mark.parametrize("session_used", [False, True])
async def test_leaving_without_commit_rolls_back_both_and_returns_the_connection(
    engine: AsyncEngine, session_used: bool,
) -> None:
    async with unit_of_work(engine) as uow:
        await direct_of(uow.session).execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "never"})
        if session_used:
            uow.session.add(Tag(tag_id=uuid.uuid4(), label="never"))
            await uow.session.flush()
    assert await notes_and_tags(engine) == (set(), set())
    assert engine.sync_engine.pool.checkedout() == 0
    with pytest.raises(ValueError):
        async with unit_of_work(engine) as uow:
            await direct_of(uow.session).execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "never"})
            raise ValueError("the use case fails")
    assert await notes_and_tags(engine) == (set(), set())


async def test_orm_changes_alone_commit_through_the_session_on_the_held_connection(engine: AsyncEngine) -> None:
    async with SentStatements(engine) as sent, unit_of_work(engine) as uow:
        uow.session.add(Tag(tag_id=uuid.uuid4(), label="only orm"))
        await uow.commit()
    # (SentStatements may note a statement SQLAlchemy sent before the BEGIN its dialect sent ahead of it.)
    assert sorted(kinds(sent)) == ["BEGIN", "COMMIT", "INSERT"] and kinds(sent)[-1] == "COMMIT"
    assert await notes_and_tags(engine) == (set(), {"only orm"})


async def test_a_read_only_unit_of_work_begins_nothing_and_its_connection_returns_as_it_was(
    engine: AsyncEngine,
) -> None:
    async with SentStatements(engine) as sent:
        async with unit_of_work(engine) as uow:
            await uow.without_transaction()
            assert await direct_of(uow.session).scalar(TXID) is None, "no transaction open"
            held = held_connection_of(uow.session)
            assert held is not None and held.driver is not None and not held.driver.is_in_transaction()
            assert (await uow.session.execute(TXID)).scalar_one() is None, "the session's statements neither"
            with pytest.raises(RuntimeError):
                await uow.commit()
        assert "BEGIN" not in kinds(sent) and "ROLLBACK" not in kinds(sent)
    # The pool's one idle connection is the same, back to beginning transactions at the service's level.
    async with unit_of_work(engine) as uow:
        await uow.session.execute(sa.select(1))
        assert (await uow.session.execute(ISOLATION)).scalar_one() == "read committed"
        assert await direct_of(uow.session).scalar(TXID) is None  # read-only so far, yet inside a transaction
        assert held_connection_of(uow.session).driver.is_in_transaction()  # type: ignore[union-attr]


async def test_without_transaction_after_a_statement_is_refused(engine: AsyncEngine) -> None:
    async with unit_of_work(engine) as uow:
        await direct_of(uow.session).scalar(TXID)
        with pytest.raises(RuntimeError, match="first statement"):
            await uow.without_transaction()


async def test_a_connection_the_server_ends_mid_unit_of_work_is_an_outage_and_never_reused(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(asyncpg.InterfaceError) as lost:
        async with unit_of_work(engine) as uow:
            past = direct_of(uow.session)
            pid = await past.scalar(sa.select(sa.func.pg_backend_pid()))
            await _terminate(engine, pid)
            await past.execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "lost"})
    assert unavailable_dependency(lost.value) == "database"
    await _pool_serves(engine)


async def test_a_commit_on_a_connection_the_server_ended_is_an_outage_and_never_reused(engine: AsyncEngine) -> None:
    with pytest.raises((asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError)) as lost:
        async with unit_of_work(engine) as uow:
            past = direct_of(uow.session)
            pid = await past.scalar(sa.select(sa.func.pg_backend_pid()))
            await past.execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "lost"})
            await _terminate(engine, pid)
            await uow.commit()
    assert unavailable_dependency(lost.value) == "database"
    await _pool_serves(engine)
    assert await notes_and_tags(engine) == (set(), set())


async def test_a_unit_of_work_cancelled_mid_statement_drops_its_connection(engine: AsyncEngine) -> None:
    sleep = sa.select(sa.func.pg_sleep(sa.bindparam("seconds", type_=sa.Float)))
    drivers: list[Any] = []

    async def slow() -> None:
        async with unit_of_work(engine) as uow:
            await direct_of(uow.session).execute(INSERT_NOTE, {"note_id": uuid.uuid4(), "text": "cancelled"})
            drivers.append(held_connection_of(uow.session).driver)  # type: ignore[union-attr]
            await direct_of(uow.session).execute(sleep, {"seconds": 5.0})

    waiting = asyncio.create_task(slow())
    await asyncio.sleep(0.3)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert drivers[0].is_closed(), "left mid-operation, it would fail the next statement on it"
    await _pool_serves(engine)
    assert await notes_and_tags(engine) == (set(), set())


@pytest.mark.parametrize("first", ["past the session", "the session"])
async def test_a_checkout_the_server_refuses_raises_asyncpgs_error_not_the_adapters_wrapper(
    postgres_socket: str, first: str,
) -> None:
    # The server refuses the connection (here: no such database; in an outage: 57P03, starting up). An API registers
    # its 503 handler for asyncpg's errors (runtime.outages.OUTAGE_ERROR_TYPES), not for the adapter's DB-API wrapper,
    # which SQLAlchemy's engine.connect would have wrapped again.
    url = sa.make_url(await new_database(postgres_socket)).set(database="no_such_database")
    engine = create_async_engine(url)
    try:
        with pytest.raises(asyncpg.InvalidCatalogNameError):
            async with unit_of_work(engine) as uow:
                if first == "the session":
                    await uow.session.execute(sa.select(1))
                else:
                    await direct_of(uow.session).scalar(sa.select(sa.literal(1)))
    finally:
        await engine.dispose()


async def _terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as other:
        await other.execute(sa.select(sa.func.pg_terminate_backend(pid)))
    await asyncio.sleep(0.2)  # the client reads the server's goodbye


async def _pool_serves(engine: AsyncEngine) -> None:
    assert engine.sync_engine.pool.checkedout() == 0, "no connection left checked out"
    for _ in range(3):  # more than the pool holds: a dead one handed out again would fail one of these
        async with unit_of_work(engine) as uow:
            assert await direct_of(uow.session).scalar(sa.select(sa.literal(1))) == 1
            await uow.commit()
