"""Writes past SQLAlchemy's execution layer (runtime.writes), on a real PostgreSQL: which way each goes, and that
what lands, commits and rolls back is what the session would have done.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from microcred.runtime.outages import unavailable_dependency
from microcred.runtime.testing import embedded_postgres_socket, new_database, statement_kind
from microcred.runtime.writes import writes_of

METADATA = sa.MetaData()
THINGS = sa.Table(
    "things", METADATA,
    sa.Column("thing_id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("facts", JSONB, nullable=False, server_default="{}"),
    sa.Column("changed_at", sa.DateTime(timezone=True), onupdate=sa.func.now()),
)
# A column SQLAlchemy fills in at execution, in Python: such a statement cannot go past it.
STAMPED = sa.Table(
    "stamped", METADATA,
    sa.Column("stamp_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("note", sa.Text, default=lambda: "filled by SQLAlchemy"),
)

# Rows the ORM writes, and a table whose rows name them: a row added to the session reaches the database before a
# write that refers to it, as the session's autoflush would have it.
class Base(DeclarativeBase):
    metadata = METADATA


class Owner(Base):
    __tablename__ = "owners"
    owner_id: Mapped[int] = mapped_column(primary_key=True)


OWNED = sa.Table("owned", METADATA, sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.owner_id"), nullable=False))

INSERT = THINGS.insert()
INSERT_ONCE = insert(THINGS).on_conflict_do_nothing().returning(THINGS.c.thing_id)
UPDATE = THINGS.update().where(THINGS.c.thing_id == sa.bindparam("b_thing_id"))


@pytest.fixture(scope="module")
def postgres_socket(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("writes-pg"))


@pytest.fixture
async def engine(postgres_socket: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(await new_database(postgres_socket))
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


class ThroughSqlAlchemy:
    """The statements that went through SQLAlchemy's cursors: a write that went past it is not among them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seen: list[str] = []
        sa.event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen.append(statement_kind(statement))


async def names(engine: AsyncEngine) -> dict[uuid.UUID, tuple[str, Any, bool]]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(THINGS.c.thing_id, THINGS.c.name, THINGS.c.facts,
                                                  THINGS.c.changed_at.is_not(None)))
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


async def test_the_first_write_begins_the_transaction_through_the_session_and_the_next_go_past_it(
        engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with async_sessionmaker(engine)() as session:
        writes = writes_of(session)
        assert writes_of(session) is writes, "one per session, shared by its repositories"
        await writes.execute(INSERT, {"thing_id": first, "name": "first"})
        await writes.execute(INSERT, [{"thing_id": second, "name": "second", "facts": {"n": 2, "tags": ["a"]}},
                                      {"thing_id": third, "name": "third", "facts": {}}])
        await writes.execute(UPDATE, {"b_thing_id": first, "name": "first, renamed"})
        await session.commit()
    assert through.seen == ["insert things"], "only the first, which began the transaction"
    assert await names(engine) == {
        first: ("first, renamed", {}, True),  # the onupdate SQL expression came along with the UPDATE
        second: ("second", {"n": 2, "tags": ["a"]}, False),  # JSONB serialized by its type, as through a session
        third: ("third", {}, False),
    }


async def test_writes_past_the_session_roll_back_with_its_transaction(engine: AsyncEngine) -> None:
    kept = uuid.uuid4()
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))  # the transaction is open: what follows goes past the session
        await writes_of(session).execute(INSERT, {"thing_id": kept, "name": "never"})
        await writes_of(session).execute(INSERT, [{"thing_id": uuid.uuid4(), "name": "never"}] * 1)
        await session.rollback()
    assert await names(engine) == {}


async def test_inserted_tells_a_new_row_from_a_conflict_either_way(engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    thing_id = uuid.uuid4()
    async with async_sessionmaker(engine)() as session:
        writes = writes_of(session)
        assert await writes.inserted(INSERT_ONCE, {"thing_id": thing_id, "name": "once"}) is True  # begins: session
        assert await writes.inserted(INSERT_ONCE, {"thing_id": thing_id, "name": "twice"}) is False  # past it
        assert await writes.inserted(INSERT_ONCE, {"thing_id": uuid.uuid4(), "name": "another"}) is True
        await session.commit()
    assert through.seen == ["insert things"]
    assert sorted(name for name, _, _ in (await names(engine)).values()) == ["another", "once"]


async def test_a_statement_sqlalchemy_must_fill_in_goes_through_the_session(engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))
        await writes_of(session).execute(STAMPED.insert(), {"stamp_id": 1})
        await session.commit()
    assert through.seen == ["select ?", "insert stamped"]
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(STAMPED.c.note))).scalar_one() == "filled by SQLAlchemy"


async def test_a_row_added_to_the_session_reaches_the_database_before_a_write_past_it(engine: AsyncEngine) -> None:
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))  # the transaction is open
        session.add(Owner(owner_id=7))
        await writes_of(session).execute(OWNED.insert(), {"owner_id": 7})  # its foreign key needs the owner first
        await session.commit()
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(OWNED.c.owner_id))).scalar_one() == 7


async def test_a_new_transaction_of_the_same_session_gets_its_own_connection_state(engine: AsyncEngine) -> None:
    session: AsyncSession
    async with async_sessionmaker(engine)() as session:
        writes = writes_of(session)
        await session.execute(sa.select(1))
        await writes.execute(INSERT, {"thing_id": uuid.uuid4(), "name": "committed"})
        await session.commit()
        # After the commit the connection went back to the pool; the next write begins a transaction anew.
        through = ThroughSqlAlchemy(engine)
        await writes.execute(INSERT, {"thing_id": uuid.uuid4(), "name": "rolled back"})
        await session.rollback()
    assert through.seen == ["insert things"]
    assert [name for name, _, _ in (await names(engine)).values()] == ["committed"]


async def test_an_error_past_the_session_is_asyncpgs_and_a_lost_connection_is_an_outage(engine: AsyncEngine) -> None:
    thing_id = uuid.uuid4()
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))
        await writes_of(session).execute(INSERT, {"thing_id": thing_id, "name": "one"})
        with pytest.raises(asyncpg.UniqueViolationError) as duplicate:
            await writes_of(session).execute(INSERT, {"thing_id": thing_id, "name": "two"})
        assert unavailable_dependency(duplicate.value) is None, "the code's own failure"
        await session.rollback()
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        async with engine.connect() as other:
            await other.execute(sa.select(sa.func.pg_terminate_backend(driver.get_server_pid())))
        # Once the client has seen the server close it: a write racing the termination message can meet an error
        # of asyncpg's protocol state instead, through the session as much as past it.
        for _ in range(200):
            if driver.is_closed():
                break
            await asyncio.sleep(0.01)
        assert driver.is_closed()
        with pytest.raises(Exception) as lost:
            await writes_of(session).execute(INSERT, {"thing_id": uuid.uuid4(), "name": "lost"})
        assert unavailable_dependency(lost.value) == "database"
        # As SQLAlchemy does when its own statement loses the connection: invalidated, so the rollback on leaving
        # the session has nothing to send (and raises nothing), and the pool never hands it out again.
        assert session.sync_session.get_transaction() is not None
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(1))).scalar_one() == 1
