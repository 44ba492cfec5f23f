"""One relay pass on a real PostgreSQL: what it publishes, in which order, what it stamps, and what it sends.

The pass reads and stamps its rows in one statement (runtime.relay); the stamps commit only after every ack, so
a failed publish leaves every row of the pass to be sent again, first row first.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from microcred.runtime.messaging_tables import MessagingTables, define_messaging_tables
from microcred.runtime.relay import OutboxRelay
from microcred.runtime.testing import SentStatements, embedded_postgres_socket, new_database


@pytest.fixture(scope="module")
def postgres_socket(tmp_path_factory: pytest.TempPathFactory) -> str:
    return embedded_postgres_socket(tmp_path_factory.mktemp("relay-pg"))


@pytest.fixture
async def outbox(postgres_socket: str) -> AsyncIterator[tuple[AsyncEngine, MessagingTables]]:
    tables = define_messaging_tables(sa.MetaData())
    engine = create_async_engine(await new_database(postgres_socket))
    async with engine.begin() as connection:
        await connection.run_sync(tables.outbox.metadata.create_all)
    try:
        yield engine, tables
    finally:
        await engine.dispose()


class Broker:
    """Where the relay's publish goes: what it acknowledged, in order; ``refuse`` fails the next acks."""

    def __init__(self) -> None:
        self.acknowledged: list[bytes] = []
        self.refuse = False

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Mapping[str, str]) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.refuse:
            ack.set_exception(ConnectionError("the broker is away"))
        else:
            self.acknowledged.append(value)
            ack.set_result(None)
        return ack


async def write(engine: AsyncEngine, tables: MessagingTables, *payloads: bytes) -> None:
    async with engine.begin() as connection:
        await connection.execute(tables.outbox.insert(), [
            {"event_id": uuid.uuid4(), "topic": "t", "key": b"k", "payload": p, "headers": {}} for p in payloads])


async def unsent(engine: AsyncEngine, tables: MessagingTables) -> list[bytes]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(tables.outbox.c.payload)
                                        .where(tables.outbox.c.published_at.is_(None)).order_by(tables.outbox.c.id))
        return [row.payload for row in rows]


def relay(engine: AsyncEngine, tables: MessagingTables, broker: Broker, batch_size: int = 500) -> OutboxRelay:
    return OutboxRelay(async_sessionmaker(engine), tables, broker.publish, service="t", registry=CollectorRegistry(),
                       batch_size=batch_size)


async def test_a_pass_publishes_in_commit_order_stamps_what_was_acknowledged_in_four_round_trips(
    outbox: tuple[AsyncEngine, MessagingTables],
) -> None:
    engine, tables = outbox
    await write(engine, tables, *(f"e{n}".encode() for n in range(30)))
    broker = Broker()
    async with SentStatements(engine) as sent:
        assert await relay(engine, tables, broker, batch_size=25).publish_pending() == 25
        statements = await sent.read()
    assert broker.acknowledged == [f"e{n}".encode() for n in range(25)]
    assert await unsent(engine, tables) == [f"e{n}".encode() for n in range(25, 30)]
    # BEGIN, the relay's lock, the read that stamps, COMMIT (a SELECT and an UPDATE before: five). Sorted: the two
    # listeners of SentStatements do not see them in the order they were sent.
    assert sorted(s.split(" ", 1)[0] for s in statements) == ["BEGIN", "COMMIT", "SELECT", "UPDATE"]


async def test_a_failed_publish_stamps_nothing_and_the_next_pass_sends_the_rows_again_in_order(
    outbox: tuple[AsyncEngine, MessagingTables],
) -> None:
    engine, tables = outbox
    await write(engine, tables, b"a", b"b", b"c")
    broker = Broker()
    broker.refuse = True
    with pytest.raises(ConnectionError):
        await relay(engine, tables, broker).publish_pending()
    assert await unsent(engine, tables) == [b"a", b"b", b"c"]
    broker.refuse = False
    await write(engine, tables, b"d")
    assert await relay(engine, tables, broker).publish_pending() == 4
    assert broker.acknowledged == [b"a", b"b", b"c", b"d"]
    assert await unsent(engine, tables) == []
