"""Writes sent straight to asyncpg inside the transaction SQLAlchemy began, past its execution layer.

Why: a prebuilt Core statement executed through a session costs the service about 0.14-0.21 ms of CPU, the same
SQL on the session's own asyncpg connection about 0.06-0.07 (``benchmarks/statement_costs.py``). Most of the
difference is SQLAlchemy's execution machinery (execution context, cursor adaptation, result), not the SQL.
SQLAlchemy still builds and compiles the statement, once per process for each set of columns given, with the
same dialect, bind casts and type processing (a JSONB value is serialized by its type, as through a session):
only the execution moves. Issue 22's sixth round.

Only Core writes on tables (a statement naming ORM entities goes through the session's ORM execution), and statements
run for their effect alone (an advisory lock, ``runtime.locks``), whose answer is nothing (:meth:`Writes.execute`)
or whether a row came back (:meth:`Writes.inserted`, for ``INSERT ... ON CONFLICT DO NOTHING RETURNING``), and only
where the transaction is already open. SQLAlchemy's asyncpg dialect sends BEGIN itself, lazily, before the first
statement it executes, so a write that would come first in its transaction goes through the session, which begins
it. After that, ``asyncpg.Connection.is_in_transaction`` says the connection is inside it, and a write sent on the
connection is part of it: committed, or rolled back, with everything else. A statement whose values SQLAlchemy
would compute at execution (a Python-side column default) or whose parameters expand goes through the session as
well. :func:`sent_as` gives the SQL and arguments of a statement for a caller that holds its own transaction on the
driver (the outbox relay's pass).

Errors are asyncpg's own, not SQLAlchemy's wrappers: ``runtime.outages`` recognizes both, so an outage met by a
write is still waited out by a consumer and answered 503 by an API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler

Params = Mapping[str, Any]


@dataclass(frozen=True)
class _Direct:
    """One statement compiled for one set of columns: its SQL and how to turn a parameter dict into its arguments."""

    sql: str
    compiled: SQLCompiler
    names: tuple[str, ...]
    processors: Mapping[str, Any]

    def arguments(self, params: Params) -> tuple[Any, ...]:
        values = self.compiled.construct_params(params)
        processors = self.processors
        return tuple(processors[name](values[name]) if name in processors else values[name] for name in self.names)

    def sent(self, params: Params) -> tuple[str, tuple[Any, ...]]:
        return self.sql, self.arguments(params)


def _processors(compiled: SQLCompiler, dialect: Dialect) -> dict[str, Any]:
    found = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            found[name] = processor
    return found


# Statements are built once per process (ADR 0002), so this holds one entry per statement and column set. A caller
# that builds a statement per call would fill it: past the bound, such statements are compiled each time instead.
# Each entry holds its statement and dialect, so the ids it is keyed by cannot be reused by other objects.
_MAX_COMPILED = 2048
_compiled: dict[tuple[int, tuple[str, ...], bool, int], tuple[sa.Executable, Dialect, _Direct | None]] = {}


def _compile(statement: sa.Executable, keys: tuple[str, ...], dialect: Dialect, *, returning: bool) -> _Direct | None:
    """The statement as sent for parameters ``keys``, or None when it must go through the session."""
    key = (id(statement), keys, returning, id(dialect))
    found = _compiled.get(key)
    if found is not None and found[0] is statement and found[1] is dialect:
        return found[2]
    # Without a RETURNING wanted, compiled as for an executemany: a one-row INSERT then lacks the RETURNING of its
    # primary key that SQLAlchemy adds to report it, which nobody here reads.
    assert isinstance(statement, sa.ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=not returning)
    assert isinstance(compiled, SQLCompiler)
    direct = None
    if (
        not compiled.insert_prefetch  # a Python-side default, computed by SQLAlchemy at execution
        and not compiled.update_prefetch
        and not compiled.post_compile_params  # an expanding IN list, or a value rendered at execution
        and not compiled.literal_execute_params
        and compiled.positiontup is not None
        and bool(compiled.effective_returning) == returning
    ):
        direct = _Direct(compiled.string, compiled, tuple(compiled.positiontup), _processors(compiled, dialect))
    if len(_compiled) < _MAX_COMPILED:
        _compiled[key] = (statement, dialect, direct)
    return direct


def sent_as(statement: sa.ClauseElement, dialect: Dialect) -> tuple[str, tuple[Any, ...]]:
    """A statement whose values are all in it, as asyncpg takes it: its SQL and arguments, processed by their types.
    For statements sent on a connection the caller holds a transaction on itself (the outbox relay's pass)."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None
    assert not compiled.post_compile_params and not compiled.literal_execute_params
    return _Direct(compiled.string, compiled, tuple(compiled.positiontup), _processors(compiled, dialect)).sent({})


def writes_of(session: AsyncSession) -> Writes:
    """The session's :class:`Writes`, one per session (kept in its ``info``), so its repositories share it."""
    found = session.info.get(_INFO_KEY)
    if found is None:
        found = session.info[_INFO_KEY] = Writes(session)
    return found  # type: ignore[no-any-return]


_INFO_KEY = "microcred.runtime.writes"


class Writes:
    """The writes of one session: on its asyncpg connection once its transaction is open, else through it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # The driver connection of the session's current transaction (which holds one connection from its start
        # to its end), kept with that transaction: after it ends the connection goes back to the pool.
        self._transaction: object = None
        self._connection: AsyncConnection | None = None
        self._driver: asyncpg.Connection | None = None
        self._dialect: Dialect | None = None

    async def execute(self, statement: sa.Executable, params: Params | Sequence[Params]) -> None:
        """Execute ``statement`` with one row of parameters, or many (an executemany), in the session's transaction.

        As ``session.execute`` would, with no result: what the statement returns (an advisory lock's void) is dropped.
        """
        rows: Sequence[Params] = [params] if isinstance(params, Mapping) else params
        if not rows:
            return
        driver, compiled = await self._direct(statement, rows[0], returning=False)
        if driver is None or compiled is None:
            await self._session.execute(statement, params)
            return
        async with self._invalidated_if_lost():
            if len(rows) == 1:
                await driver.execute(compiled.sql, *compiled.arguments(rows[0]))
            else:
                await driver.executemany(compiled.sql, [compiled.arguments(row) for row in rows])

    async def inserted(self, statement: sa.Executable, params: Params) -> bool:
        """Execute a one-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING ...``: True if it returned its row
        (inserted), False if the conflict kept what was there."""
        driver, compiled = await self._direct(statement, params, returning=True)
        if driver is None or compiled is None:
            return (await self._session.execute(statement, params)).first() is not None
        async with self._invalidated_if_lost():
            return await driver.fetchrow(compiled.sql, *compiled.arguments(params)) is not None

    @asynccontextmanager
    async def _invalidated_if_lost(self) -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            if self._driver is not None and self._driver.is_closed() and self._connection is not None:
                # The server closed the connection (an outage, a terminated backend). SQLAlchemy, meeting this on a
                # statement of its own, forgets the transaction, so the session's rollback sends nothing and raises
                # nothing, and the pool never hands the connection out again. It did not see this one: it is told.
                await self._connection.invalidate()
            raise

    async def _direct(self, statement: sa.Executable, params: Params, *, returning: bool
                      ) -> tuple[asyncpg.Connection | None, _Direct | None]:
        driver = await self._driver_in_transaction()
        if driver is None:
            return None, None
        assert self._dialect is not None
        return driver, _compile(statement, tuple(sorted(params)), self._dialect, returning=returning)

    async def _driver_in_transaction(self) -> asyncpg.Connection | None:
        session = self._session
        orm = session.sync_session
        if orm.autoflush and (orm.new or orm.dirty or orm.deleted):
            # The session flushes its pending ORM changes before a statement it executes, a Core one on a table
            # too: a row added before this write reaches the database before it (a foreign key, a trigger that
            # looks it up), as it did when the write went through the session.
            await session.flush()
        transaction = orm.get_transaction()
        if transaction is None or transaction is not self._transaction:
            connection = self._connection = await session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            self._transaction = orm.get_transaction()
            self._driver = driver if isinstance(driver, asyncpg.Connection) else None
            self._dialect = connection.dialect
        driver = self._driver
        return driver if driver is not None and driver.is_in_transaction() else None
