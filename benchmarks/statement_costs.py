"""What one SQL statement and one transaction cost the service's process, by how the statement is sent.

Issue 22's fourth round: SQLAlchemy and asyncpg were about a third to a half of every service's CPU, and the
question was how much of that is the statement's trip to PostgreSQL and how much is building and dispatching it.
This starts the embedded PostgreSQL, makes a database with review's tables, and reads one row of ``reviews`` by
its key ``--statements`` times each way, then runs ``--transactions`` transactions of that one read. It measures
this process's CPU only (``time.process_time``): the server's share is the same whichever way the statement comes.

- built per call: ``session.execute(sa.select(T).where(T.c.id == value))``, as the repositories wrote it;
- built once: the same statement made once with ``sa.bindparam``, its value given at execution;
- asyncpg: the same SQL on the session's asyncpg connection, no SQLAlchemy in between;
- a transaction of that read, through a session (BEGIN, the read, COMMIT, the session closed) or asyncpg's;
- a write (an UPDATE) in a transaction already open, through the session or past it with ``runtime.direct``
  (issue 22's sixth round), ``--statements`` times each;
- the read, and the transaction of it, past the session with ``runtime.direct`` (issue 22's seventh round);
- a unit of work of an inbox claim, that read and the commit, and a read-only one of the read alone, in the session's
  frame or on the unit of work's own connection (issue 22's eighth round, ``runtime.held_connection``).

On this machine (2026-12-07 afternoon, quiet but a fifth slower than in the morning, issue 22's eighth round, one
run): built per call 0.264 ms, built once 0.160, past the session 0.083, asyncpg 0.058; a transaction of the read
0.591 through a session, 0.509 with the read past it, 0.181 on asyncpg; a write in an open transaction 0.141 through
the session, 0.083 past it; a unit of work of a claim, the read and its commit 0.612 in the session's frame, 0.475 on
its own connection; a read-only one 0.322 and 0.182. In the late morning (issue 22's seventh round, one run): built per call 0.240 ms, built
once 0.136, past the session (runtime.direct) 0.066, asyncpg 0.049; a transaction of the read 0.500 through a
session, 0.438 with the read past it, 0.146 on asyncpg; a write in an open transaction 0.125 through the session,
0.069 past it. Earlier that morning (issue 22's sixth round, two runs): built per call 0.24 ms, built once
0.13-0.14, asyncpg 0.05; a transaction of the read 0.49-0.55 through a session, 0.14 on asyncpg; a write in an open
transaction 0.12-0.16 through the session, 0.065 past it. (The night before, on a slower host: built per call 0.31 ms,
built once 0.14 ms, asyncpg 0.06 ms per statement; a transaction of the built-once read 0.60 ms through a session,
0.17 ms on asyncpg; earlier that night, with other work running: 0.25, 0.14-0.16 and 0.06, a transaction 0.50.)

    python benchmarks/statement_costs.py [--statements 3000] [--transactions 1000]

Prints a table; writes nothing but a scratch PostgreSQL directory, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from microcred.review.adapters.orm import messaging
from microcred.review.adapters.repository import _REVIEWS as REVIEWS
from microcred.runtime.direct import direct_of
from microcred.runtime.testing import embedded_postgres_socket, migrated_engine
from microcred.runtime.uow import UnitOfWork

SQL = "SELECT * FROM reviews WHERE review_id = $1"


async def per_call(times: int, call: Callable[[], Awaitable[object]]) -> float:
    """CPU ms of this process per call, after a warm-up that prepares the statement and fills the caches."""
    for _ in range(min(times, 200)):
        await call()
    started = time.process_time()
    for _ in range(times):
        await call()
    return (time.process_time() - started) / times * 1000


async def measure(engine: AsyncEngine, statements: int, transactions: int) -> list[tuple[str, float]]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    key = uuid.uuid4()
    built_once = sa.select(REVIEWS).where(REVIEWS.c.review_id == sa.bindparam("key"))
    figures: list[tuple[str, float]] = []
    async with sessions() as session:
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None

        async def built_per_call() -> object:
            return (await session.execute(sa.select(REVIEWS).where(REVIEWS.c.review_id == key))).first()

        async def prebuilt() -> object:
            return (await session.execute(built_once, {"key": key})).first()

        async def asyncpg_read() -> object:
            return await driver.fetchrow(SQL, key)

        figures.append(("statement built per call, through the session", await per_call(statements, built_per_call)))
        figures.append(("statement built once, through the session", await per_call(statements, prebuilt)))
        figures.append(("the same SQL on asyncpg", await per_call(statements, asyncpg_read)))

        async def direct_read() -> object:
            return await direct_of(session).first(built_once, {"key": key})

        figures.append(("the built-once statement past the session (runtime.direct)",
                        await per_call(statements, direct_read)))

        async def asyncpg_transaction() -> object:
            async with driver.transaction():
                return await driver.fetchrow(SQL, key)

        raw_transaction = await per_call(transactions, asyncpg_transaction)

    async def session_transaction() -> object:
        async with sessions() as session:
            row = (await session.execute(built_once, {"key": key})).first()
            await session.commit()
            return row

    async def direct_transaction() -> object:
        async with sessions() as session:
            row = await direct_of(session).first(built_once, {"key": key})
            await session.commit()
            return row

    figures.append(("transaction of that read, through a session", await per_call(transactions, session_transaction)))
    figures.append(("the same, the read past the session, which begins it (runtime.direct)",
                    await per_call(transactions, direct_transaction)))
    figures.append(("transaction of that read, on asyncpg", raw_transaction))

    # A write inside a transaction already open (the read began it), as the repositories send theirs: an UPDATE of
    # the row's status (no row has the key, so nothing changes and nothing grows between the two ways).
    update = sa.update(REVIEWS).where(REVIEWS.c.review_id == sa.bindparam("b_key"))
    values = {"b_key": key, "status": "assigned"}
    async with sessions() as session:
        await session.execute(built_once, {"key": key})
        writes = direct_of(session)

        async def write_through_session() -> object:
            return await session.execute(update, values)

        async def write_past_session() -> None:
            await writes.execute(update, values)

        figures.append(("a write in an open transaction, through the session",
                        await per_call(statements, write_through_session)))
        figures.append(("the same write past it (runtime.direct)", await per_call(statements, write_past_session)))
        await session.rollback()

    # A consumer's unit of work (its inbox claim, one read, the commit) and a read-only request's, on the unit of
    # work's own connection (issue 22's eighth round, runtime.held_connection) and, for comparison, in the session's
    # frame, which a unit of work keeps when its factory is not an async_sessionmaker bound to an engine.
    def framed(**options: Any) -> AsyncSession:
        return sessions(**options)

    def claim_read_commit(factory: Any) -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            async with UnitOfWork(factory, messaging, "statement-costs") as uow:
                await uow.claim("statement-costs", uuid.uuid4())
                row = await direct_of(uow.session).first(built_once, {"key": key})
                await uow.commit()
                return row
        return call

    def read_only(factory: Any) -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            async with UnitOfWork(factory, messaging, "statement-costs") as uow:
                await uow.without_transaction()
                return await direct_of(uow.session).first(built_once, {"key": key})
        return call

    figures.append(("a unit of work (claim, read, commit), in the session's frame",
                    await per_call(transactions, claim_read_commit(framed))))
    figures.append(("the same on the unit of work's own connection (runtime.held_connection)",
                    await per_call(transactions, claim_read_commit(sessions))))
    figures.append(("a read-only unit of work (one read), in the session's frame",
                    await per_call(transactions, read_only(framed))))
    figures.append(("the same on the unit of work's own connection", await per_call(transactions, read_only(sessions))))
    return figures


async def main(statements: int, transactions: int) -> None:
    migrations = "microcred.review:migrations"
    with tempfile.TemporaryDirectory(prefix="statement-costs-") as scratch:
        socket_dir = embedded_postgres_socket(Path(scratch) / "postgres")
        async with migrated_engine(socket_dir, migrations) as engine:
            figures = await measure(engine, statements, transactions)
    print("| how | client CPU ms |\n|---|---|")
    for label, ms in figures:
        print(f"| {label} | {ms:.3f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=3000)
    parser.add_argument("--transactions", type=int, default=1000)
    options = parser.parse_args()
    asyncio.run(main(options.statements, options.transactions))
