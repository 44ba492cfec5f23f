"""Statements past SQLAlchemy's execution layer (runtime.direct), on a real PostgreSQL: which way each goes, and that
what lands, commits, rolls back and reads back is what the session would have done.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from microcred.runtime.direct import direct_of
from microcred.runtime.messaging_tables import define_messaging_tables
from microcred.runtime.outages import unavailable_dependency
from microcred.runtime.testing import embedded_postgres_socket, engine_with_tables, statement_kind

METADATA = sa.MetaData()
THINGS = sa.Table(
    "things", METADATA,
    sa.Column("thing_id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("facts", JSONB, nullable=False, server_default="{}"),
    sa.Column("changed_at", sa.DateTime(timezone=True), onupdate=sa.func.now()),
    # Its result processor depends on the type PostgreSQL returns: read past the session once its types are known.
    sa.Column("amount", sa.Numeric(12, 4)),
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
    async with engine_with_tables(postgres_socket, METADATA) as engine:
        yield engine


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


async def test_writes_go_past_the_session_from_the_first_which_begins_its_transaction(engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with async_sessionmaker(engine)() as session:
        writes = direct_of(session)
        assert direct_of(session) is writes, "one per session, shared by its repositories"
        await writes.execute(INSERT, {"thing_id": first, "name": "first"})
        await writes.execute(INSERT, [{"thing_id": second, "name": "second", "facts": {"n": 2, "tags": ["a"]}},
                                      {"thing_id": third, "name": "third", "facts": {}}])
        await writes.execute(UPDATE, {"b_thing_id": first, "name": "first, renamed"})
        await session.commit()
    assert through.seen == [], "none through SQLAlchemy's cursors, the first one included"
    assert await names(engine) == {
        first: ("first, renamed", {}, True),  # the onupdate SQL expression came along with the UPDATE
        second: ("second", {"n": 2, "tags": ["a"]}, False),  # JSONB serialized by its type, as through a session
        third: ("third", {}, False),
    }


@pytest.mark.parametrize("opened_by", ["the session", "a write past it"])
async def test_writes_past_the_session_roll_back_with_its_transaction(engine: AsyncEngine, opened_by: str) -> None:
    async with async_sessionmaker(engine)() as session:
        if opened_by == "the session":
            await session.execute(sa.select(1))
        await direct_of(session).execute(INSERT, {"thing_id": uuid.uuid4(), "name": "never"})
        await direct_of(session).execute(INSERT, [{"thing_id": uuid.uuid4(), "name": "never"}] * 1)
        await session.execute(INSERT, {"thing_id": uuid.uuid4(), "name": "never, through the session"})
        await session.rollback()
    assert await names(engine) == {}


async def test_a_lock_taken_first_past_the_session_is_held_until_its_commit(engine: AsyncEngine) -> None:
    lock = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger)))
    try_lock = sa.select(sa.func.pg_try_advisory_lock(sa.bindparam("key", type_=sa.BigInteger)))
    async with async_sessionmaker(engine)() as session, engine.connect() as other:
        await direct_of(session).execute(lock, {"key": 42})
        assert (await other.execute(try_lock, {"key": 42})).scalar_one() is False, "held by the open transaction"
        await session.commit()
        assert (await other.execute(try_lock, {"key": 42})).scalar_one() is True, "released by its commit"


async def test_inserted_tells_a_new_row_from_a_conflict_either_way(engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    thing_id = uuid.uuid4()
    async with async_sessionmaker(engine)() as session:
        writes = direct_of(session)
        assert await writes.inserted(INSERT_ONCE, {"thing_id": thing_id, "name": "once"}) is True
        assert await writes.inserted(INSERT_ONCE, {"thing_id": thing_id, "name": "twice"}) is False
        assert await writes.inserted(INSERT_ONCE, {"thing_id": uuid.uuid4(), "name": "another"}) is True
        await session.commit()
    assert through.seen == []
    assert sorted(name for name, _, _ in (await names(engine)).values()) == ["another", "once"]


async def test_a_statement_sqlalchemy_must_fill_in_goes_through_the_session(engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))
        await direct_of(session).execute(STAMPED.insert(), {"stamp_id": 1})
        await session.commit()
    assert through.seen == ["select ?", "insert stamped"]
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(STAMPED.c.note))).scalar_one() == "filled by SQLAlchemy"


async def test_a_row_added_to_the_session_reaches_the_database_before_a_write_past_it(engine: AsyncEngine) -> None:
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))  # the transaction is open
        session.add(Owner(owner_id=7))
        await direct_of(session).execute(OWNED.insert(), {"owner_id": 7})  # its foreign key needs the owner first
        await session.commit()
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(OWNED.c.owner_id))).scalar_one() == 7


async def test_a_new_transaction_of_the_same_session_gets_its_own_connection_state(engine: AsyncEngine) -> None:
    session: AsyncSession
    async with async_sessionmaker(engine)() as session:
        writes = direct_of(session)
        await session.execute(sa.select(1))
        await writes.execute(INSERT, {"thing_id": uuid.uuid4(), "name": "committed"})
        await session.commit()
        # After the commit the connection went back to the pool; the next write begins a transaction anew.
        through = ThroughSqlAlchemy(engine)
        await writes.execute(INSERT, {"thing_id": uuid.uuid4(), "name": "rolled back"})
        await session.rollback()
    assert through.seen == []
    assert [name for name, _, _ in (await names(engine)).values()] == ["committed"]


async def test_an_error_past_the_session_is_asyncpgs_and_a_lost_connection_is_an_outage(engine: AsyncEngine) -> None:
    thing_id = uuid.uuid4()
    async with async_sessionmaker(engine)() as session:
        await session.execute(sa.select(1))
        await direct_of(session).execute(INSERT, {"thing_id": thing_id, "name": "one"})
        with pytest.raises(asyncpg.UniqueViolationError) as duplicate:
            await direct_of(session).execute(INSERT, {"thing_id": thing_id, "name": "two"})
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
            await direct_of(session).execute(INSERT, {"thing_id": uuid.uuid4(), "name": "lost"})
        assert unavailable_dependency(lost.value) == "database"
        # As SQLAlchemy does when its own statement loses the connection: invalidated, so the rollback on leaving
        # the session has nothing to send (and raises nothing), and the pool never hands it out again.
        assert session.sync_session.get_transaction() is not None
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(1))).scalar_one() == 1


# Reads: every column type the services read, and expressions with labels, come back as through the session.
READ = sa.select(THINGS.c.thing_id, THINGS.c.name, THINGS.c.facts, THINGS.c.changed_at, THINGS.c.amount,
                 (THINGS.c.name == "b").label("is_b"), (THINGS.c.amount * 2).label("twice")).where(THINGS.c.name != sa.bindparam("not_named"))
COUNT = sa.select(sa.func.count(), sa.func.max(THINGS.c.name)).where(THINGS.c.name != sa.bindparam("not_named"))


async def test_reads_past_the_session_give_the_rows_the_session_gives(engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    ids = [uuid.uuid4(), uuid.uuid4()]
    async with async_sessionmaker(engine)() as session:
        await session.execute(INSERT, [{"thing_id": ids[0], "name": "a", "facts": {"n": [1, 2]}, "amount": Decimal("1.5")},
                                       {"thing_id": ids[1], "name": "b", "facts": {}, "amount": None}])
        await session.execute(UPDATE, {"b_thing_id": ids[1], "name": "b"})  # changed_at set
        await session.commit()
    async with async_sessionmaker(engine)() as session:
        expected = (await session.execute(READ.order_by(THINGS.c.name), {"not_named": "z"})).all()
        expected_count = (await session.execute(COUNT, {"not_named": "a"})).one()
        await session.rollback()
    through.seen.clear()
    async with async_sessionmaker(engine)() as session:
        direct = direct_of(session)
        found = await direct.rows(READ.order_by(THINGS.c.name), {"not_named": "z"})
        assert found == [tuple(row) for row in expected]
        assert [(row.thing_id, row.name, row.facts, row.changed_at, row.is_b) for row in found] == [
            (row.thing_id, row.name, row.facts, row.changed_at, row.is_b) for row in expected
        ], "read by name as by position"
        assert found[0].facts == {"n": [1, 2]} and found[1].changed_at is not None and found[1].is_b is True
        assert found[0].amount == Decimal("1.5") and found[0].twice == Decimal("3.0") and found[1].amount is None
        assert found[0]._mapping == dict(expected[0]._mapping)
        assert isinstance(found[0].thing_id, uuid.UUID)
        assert tuple(await direct.first(COUNT, {"not_named": "a"})) == tuple(expected_count)
        assert await direct.scalar(COUNT, {"not_named": "a"}) == 1
        assert await direct.scalars(READ.order_by(THINGS.c.name), {"not_named": "a"}) == [ids[1]]
        assert await direct.first(READ, {"not_named": "a"}) is not None
        assert await direct.rows(READ.where(THINGS.c.name == "nobody"), {"not_named": "a"}) == []
        assert await direct.first(READ.where(THINGS.c.name == "nobody"), {"not_named": "a"}) is None
        await session.commit()
    assert through.seen == [], "every read went past the session"


async def test_reads_of_orm_entities_or_expanding_lists_go_through_the_session(engine: AsyncEngine) -> None:
    through = ThroughSqlAlchemy(engine)
    async with async_sessionmaker(engine)() as session:
        session.add(Owner(owner_id=3))
        await session.flush()
        owner = await direct_of(session).scalar(sa.select(Owner).where(Owner.owner_id == 3))
        assert isinstance(owner, Owner) and owner.owner_id == 3, "the ORM's object, not a row"
        named = await direct_of(session).scalars(sa.select(THINGS.c.name).where(THINGS.c.name.in_(["a", "b"])))
        assert named == []
        await session.rollback()
    assert through.seen == ["insert owners", "select owners", "select things"]


async def test_a_read_without_a_transaction_begins_none(engine: AsyncEngine) -> None:
    async with async_sessionmaker(engine)() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        driver = (await connection.get_raw_connection()).driver_connection
        assert await direct_of(session).scalar(COUNT, {"not_named": "a"}) == 0
        assert not driver.is_in_transaction(), "AUTOCOMMIT: each statement its own transaction"


async def test_a_batchs_inbox_rows_go_in_one_statement_that_counts_the_new_ones(engine: AsyncEngine) -> None:
    tables = define_messaging_tables(sa.MetaData())
    async with engine.begin() as connection:
        await connection.run_sync(tables.inbox.create)
    seen, fresh = uuid.uuid4(), uuid.uuid4()
    through = ThroughSqlAlchemy(engine)
    async with async_sessionmaker(engine)() as session:
        claims = {"consumers": ["a", "b"], "event_ids": [seen, seen]}
        assert await direct_of(session).affected(tables.claim_many, claims) == 2, "one event, two consumers"
        await session.commit()
    async with async_sessionmaker(engine)() as session:
        claims = {"consumers": ["a", "a"], "event_ids": [seen, fresh]}
        assert await direct_of(session).affected(tables.claim_many, claims) == 1, "the redelivery is left out"
        await session.commit()
    assert through.seen == []
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(tables.inbox.c.consumer, tables.inbox.c.event_id))
        assert sorted((consumer, str(event)) for consumer, event in rows) == sorted(
            [("a", str(seen)), ("b", str(seen)), ("a", str(fresh))])


async def test_a_first_statement_on_a_connection_the_server_closed_meets_asyncpgs_error_an_outage(
        engine: AsyncEngine) -> None:
    async with engine.connect() as other:
        await other.execute(sa.select(1))  # holding a connection of its own
        async with async_sessionmaker(engine)() as session:
            driver = (await (await session.connection()).get_raw_connection()).driver_connection
            await session.commit()
        # Back in the pool, idle: the server ends it before the next checkout.
        await other.execute(sa.select(sa.func.pg_terminate_backend(driver.get_server_pid())))
    for _ in range(200):
        if driver.is_closed():
            break
        await asyncio.sleep(0.01)
    async with async_sessionmaker(engine)() as session:
        with pytest.raises(asyncpg.InterfaceError) as lost:  # what an API answers 503, not the adapter's wrapper
            await direct_of(session).execute(INSERT, {"thing_id": uuid.uuid4(), "name": "lost"})
        assert unavailable_dependency(lost.value) == "database"
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(1))).scalar_one() == 1, "the pool dropped it"


async def test_a_statement_cancelled_midway_drops_its_connection_and_the_pool_keeps_serving(engine: AsyncEngine) -> None:
    sleep = sa.select(sa.func.pg_sleep(sa.bindparam("seconds", type_=sa.Float)))
    async with async_sessionmaker(engine)() as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        waiting = asyncio.create_task(direct_of(session).execute(sleep, {"seconds": 5.0}))
        await asyncio.sleep(0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert driver.is_closed(), "left mid-operation, it would fail the next statement on it"
    # The session's rollback and close raised nothing; the pool hands out a working connection.
    async with async_sessionmaker(engine)() as session:
        assert await direct_of(session).scalar(sa.select(sa.literal(1))) == 1
