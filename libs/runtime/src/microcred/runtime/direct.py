"""Statements sent straight to asyncpg inside the session's transaction, past SQLAlchemy's execution layer.

Why: a prebuilt Core statement executed through a session costs the service about 0.13-0.16 ms of CPU, the same
SQL on the session's own asyncpg connection about 0.05-0.07 (``benchmarks/statement_costs.py``), and a transaction's
first statement through the session more again, since it also begins the transaction there. Most of the difference
is SQLAlchemy's execution machinery (execution context, cursor adaptation, result), not the SQL. SQLAlchemy still
builds and compiles each statement, once per process for each set of parameter names, with the same dialect, bind
casts and type processing (a JSONB value is serialized by its type, as through a session): only the execution
moves. Issue 22's sixth round moved the writes, its seventh the reads and the BEGIN.

What goes past the session: Core statements on tables, whose answer is nothing (:meth:`Direct.execute`, a write or
an advisory lock), whether a row came back (:meth:`Direct.inserted`, for ``INSERT ... ON CONFLICT DO NOTHING
RETURNING``), how many rows changed (:meth:`Direct.affected`), or rows of plain columns (:meth:`Direct.rows`,
:meth:`Direct.first`, :meth:`Direct.scalar`, :meth:`Direct.scalars`). Rows come back as named tuples, read by
attribute, position or ``_mapping`` as SQLAlchemy's rows are, each value through the result processor of its
column's type (asyncpg's own codecs already decode what the services read, SQLAlchemy's JSON ones included, so these
are mostly none). A statement naming ORM entities, one whose values SQLAlchemy computes at execution (a Python-side
column default) or whose parameters expand (an ``IN`` list given as a list), goes through the session as before:
same answer, the slower way.

The transaction stays SQLAlchemy's. Its asyncpg dialect begins it lazily, before the first statement on the
connection, through its adapter's ``_start_transaction``; a first statement sent here makes that same call first
(``Direct._driver_in_transaction``), so the BEGIN is the dialect's own (its isolation level, or none on a
connection set to AUTOCOMMIT by ``UnitOfWork.without_transaction``), and the session's commit, rollback and close
end it exactly as they end one SQLAlchemy began. That method is private to SQLAlchemy (pinned in
``constraints.txt``); where it is missing the statement goes through the session instead, and
``tests/test_direct.py`` fails, since it checks which way each statement went.

A unit of work's session runs on the unit of work's own pooled connection (runtime.held_connection): there the
statements go on that connection, which begins the transaction the same way, and no session connection is looked up.

Errors are asyncpg's own, not SQLAlchemy's wrappers: ``runtime.outages`` recognizes both, so an outage met here is
still waited out by a consumer and answered 503 by an API. A connection the server closed is invalidated, as
SQLAlchemy does when it meets one.
"""

from __future__ import annotations

import keyword
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler

from microcred.runtime.held_connection import drivers_error, held_connection_of, left_unusable

Params = Mapping[str, Any]
_RowMaker = Callable[[asyncpg.Record], tuple[Any, ...]]


@dataclass
class _Compiled:
    """One statement compiled for one set of parameter names: its SQL, how to turn a parameter dict into its
    arguments, and (a query) how to turn asyncpg's records into rows."""

    sql: str
    compiled: SQLCompiler
    names: tuple[str, ...]
    processors: Mapping[str, Any]
    # A query's: how its records become rows; None until its first execution when that needs the result's types
    # (_NeedsTypes).
    row: _RowMaker | None = None

    @classmethod
    def of(cls, compiled: SQLCompiler, dialect: Dialect, row: _RowMaker | None = None) -> _Compiled:
        assert compiled.positiontup is not None
        return cls(compiled.string, compiled, tuple(compiled.positiontup), _processors(compiled, dialect), row)

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


class _NeedsTypes(Exception):
    """A column's result processor depends on the type PostgreSQL returns (a NUMERIC or a float, say)."""


def _row_maker(compiled: SQLCompiler, dialect: Dialect, oids: Sequence[int] | None = None) -> _RowMaker | None:
    """How a record of this query becomes a row like SQLAlchemy's (attribute, position and ``_mapping``), or None
    when its columns cannot be named that way (two columns of one name, a name that is not an identifier).

    ``oids`` are the types of the result's columns as PostgreSQL gives them, which some processors depend on (as
    SQLAlchemy's own result gives them the cursor's description); without them such a column raises _NeedsTypes."""
    columns = compiled._result_columns  # the names and types SQLAlchemy's own result would use
    names = [column.keyname for column in columns]
    if not names or len(set(names)) != len(names) or not all(
        name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") for name in names
    ):
        return None
    processors = []
    for index, column in enumerate(columns):
        try:
            processors.append(column.type.dialect_impl(dialect).result_processor(
                dialect, None if oids is None else oids[index]))
        except (TypeError, sa.exc.InvalidRequestError) as unknown:
            if oids is None:
                raise _NeedsTypes from unknown
            raise
    row_type: Any = type("Row", (namedtuple("Row", names),), {  # type: ignore[misc]
        "__slots__": (), "_mapping": property(lambda row: dict(zip(row._fields, row, strict=True)))
    })
    make: _RowMaker = row_type._make
    if not any(processors):
        return make
    pairs = list(enumerate(processors))
    return lambda record: make([p(record[i]) if p is not None else record[i] for i, p in pairs])


# Statements are built once per process (ADR 0002), so this holds one entry per statement and parameter set. A caller
# that builds a statement per call would fill it: past the bound, such statements are compiled each time instead.
# Each entry holds its statement and dialect, so the ids it is keyed by cannot be reused by other objects.
_MAX_COMPILED = 2048
_compiled: dict[tuple[int, tuple[str, ...], str, int], tuple[sa.Executable, Dialect, _Compiled | None]] = {}


def _compile(statement: sa.Executable, keys: tuple[str, ...], dialect: Dialect, *, answer: str) -> _Compiled | None:
    """The statement as sent for parameters ``keys``, or None when it must go through the session. ``answer`` is
    what the caller wants back: "none" (a write), "returned" (whether a row came back) or "rows"."""
    key = (id(statement), keys, answer, id(dialect))
    found = _compiled.get(key)
    if found is not None and found[0] is statement and found[1] is dialect:
        return found[2]
    # A write whose answer nobody reads is compiled as for an executemany: a one-row INSERT then lacks the RETURNING
    # of its primary key that SQLAlchemy adds to report it.
    assert isinstance(statement, sa.ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=answer == "none")
    assert isinstance(compiled, SQLCompiler)
    direct = None
    if (
        not compiled.insert_prefetch  # a Python-side default, computed by SQLAlchemy at execution
        and not compiled.update_prefetch
        and not compiled.post_compile_params  # an expanding IN list, or a value rendered at execution
        and not compiled.literal_execute_params
        and compiled.positiontup is not None
    ):
        if answer == "rows":
            # A query naming ORM entities or attributes is compiled by the ORM's plugin; its rows may be objects.
            core = isinstance(statement, sa.Select) and statement._propagate_attrs.get("compile_state_plugin") != "orm"
            if core:
                try:
                    row = _row_maker(compiled, dialect)
                    nameable = row is not None
                except _NeedsTypes:
                    row, nameable = None, True  # made at its first execution, with the result's types
                if nameable:
                    direct = _Compiled.of(compiled, dialect, row)
        elif bool(compiled.effective_returning) == (answer == "returned"):
            direct = _Compiled.of(compiled, dialect)
    if len(_compiled) < _MAX_COMPILED:
        _compiled[key] = (statement, dialect, direct)
    return direct


def sent_as(statement: sa.ClauseElement, dialect: Dialect) -> tuple[str, tuple[Any, ...]]:
    """A statement whose values are all in it, as asyncpg takes it: its SQL and arguments, processed by their types.
    For statements sent on a connection the caller holds a transaction on itself (the outbox relay's pass)."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    assert not compiled.post_compile_params and not compiled.literal_execute_params
    return _Compiled.of(compiled, dialect).sent({})


def direct_of(session: AsyncSession) -> Direct:
    """The session's :class:`Direct`, one per session (kept in its ``info``), so its repositories share it."""
    found = session.info.get(_INFO_KEY)
    if found is None:
        found = session.info[_INFO_KEY] = Direct(session)
    return found  # type: ignore[no-any-return]


_INFO_KEY = "microcred.runtime.direct"


class Direct:
    """The statements of one session, sent on its asyncpg connection, in its transaction.

    For statements built once (a service's ``statements.py``, ADR 0002): each is compiled once per process and kept
    by identity. A statement built on every call (an admin listing, a gauge's query) belongs on the session, whose
    cache finds it by its structure; here it would be compiled on every call, and fill the cache for nothing.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # The unit of work's own connection, when the session runs on one (runtime.held_connection): statements go
        # on it, in its transaction, with no connection or transaction of the session's to look up.
        self._held = held_connection_of(session)
        # The connection of the session's current transaction (which holds one connection from its start to its
        # end), kept with that transaction: after it ends the connection goes back to the pool.
        self._transaction: object = None
        self._connection: AsyncConnection | None = None
        self._adapter: Any = None  # SQLAlchemy's adaptation of the asyncpg connection, which owns its transaction
        self._driver: asyncpg.Connection | None = None
        self._dialect: Dialect | None = None

    async def execute(self, statement: sa.Executable, params: Params | Sequence[Params]) -> None:
        """Execute ``statement`` with one row of parameters, or many (an executemany), in the session's transaction.

        As ``session.execute`` would, with no result: what the statement returns (an advisory lock's void) is dropped.
        """
        rows: Sequence[Params] = [params] if isinstance(params, Mapping) else params
        if not rows:
            return
        driver, compiled = await self._direct(statement, rows[0], answer="none")
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
        driver, compiled = await self._direct(statement, params, answer="returned")
        if driver is None or compiled is None:
            return (await self._session.execute(statement, params)).first() is not None
        async with self._invalidated_if_lost():
            return await driver.fetchrow(compiled.sql, *compiled.arguments(params)) is not None

    async def affected(self, statement: sa.Executable, params: Params) -> int:
        """Execute a write with one row of parameters: how many rows it inserted, updated or deleted."""
        driver, compiled = await self._direct(statement, params, answer="none")
        if driver is None or compiled is None:
            result = await self._session.execute(statement, params)
            return int(getattr(result, "rowcount", 0))
        async with self._invalidated_if_lost():
            status = await driver.execute(compiled.sql, *compiled.arguments(params))
        # The command tag: "INSERT 0 3", "UPDATE 2", "DELETE 1".
        return int(status.rsplit(" ", 1)[-1])

    async def rows(self, statement: sa.Executable, params: Params | None = None) -> list[Any]:
        """The rows of a Core query, as ``session.execute(statement, params).all()`` gives them."""
        params = params or {}
        driver, compiled = await self._direct(statement, params, answer="rows")
        if driver is None or compiled is None:
            return list((await self._session.execute(statement, params)).all())
        async with self._invalidated_if_lost():
            if compiled.row is None:
                # Once per process and statement: the result's types, for the processors that depend on them.
                prepared = await driver.prepare(compiled.sql)
                oids = [attribute.type.oid for attribute in prepared.get_attributes()]
                assert self._dialect is not None
                compiled.row = _row_maker(compiled.compiled, self._dialect, oids)
                assert compiled.row is not None
            records = await driver.fetch(compiled.sql, *compiled.arguments(params))
        make = compiled.row
        return [make(record) for record in records]

    async def first(self, statement: sa.Executable, params: Params | None = None) -> Any:
        """The first row of a Core query, or None, as ``session.execute(...).first()``."""
        found = await self.rows(statement, params)
        return found[0] if found else None

    async def scalar(self, statement: sa.Executable, params: Params | None = None) -> Any:
        """The first column of the first row, or None, as ``session.scalar(...)``."""
        found = await self.rows(statement, params)
        return found[0][0] if found else None

    async def scalars(self, statement: sa.Executable, params: Params | None = None) -> list[Any]:
        """The first column of every row, as ``session.scalars(...).all()``."""
        return [row[0] for row in await self.rows(statement, params)]

    @asynccontextmanager
    async def _invalidated_if_lost(self) -> AsyncIterator[None]:
        if self._held is not None:
            async with self._held.invalidated_if_lost():
                yield
            return
        try:
            yield
        except BaseException as error:
            driver, connection = self._driver, self._connection
            if driver is not None and connection is not None and left_unusable(driver, error):
                # SQLAlchemy, meeting this on a statement of its own, forgets the transaction, so the session's
                # rollback sends nothing and raises nothing, and the pool never hands the connection out again. It
                # did not see this one: it is told. Closed at once first, with no await, so that a second
                # cancellation cannot leave it open.
                driver.terminate()
                await connection.invalidate()
            raise

    async def _direct(self, statement: sa.Executable, params: Params, *, answer: str
                      ) -> tuple[asyncpg.Connection | None, _Compiled | None]:
        driver = await self._driver_in_transaction()
        if driver is None:
            return None, None
        assert self._dialect is not None
        return driver, _compile(statement, tuple(sorted(params)), self._dialect, answer=answer)

    async def _driver_in_transaction(self) -> asyncpg.Connection | None:
        session = self._session
        orm = session.sync_session
        if orm.autoflush and (orm.new or orm.dirty or orm.deleted):
            # The session flushes its pending ORM changes before a statement it executes, a Core one on a table
            # too: a row added before this statement reaches the database before it (a foreign key, a trigger that
            # looks it up, a read that should see it), as it did when the statement went through the session.
            await session.flush()
        if self._held is not None:
            self._dialect = self._held.dialect
            self._driver = await self._held.driver_in_transaction()
            return self._driver
        transaction = orm.get_transaction()
        if transaction is None or transaction is not self._transaction:
            connection = self._connection = await session.connection()
            raw = await connection.get_raw_connection()
            driver, adapter = raw.driver_connection, raw.dbapi_connection
            self._transaction = orm.get_transaction()
            usable = isinstance(driver, asyncpg.Connection) and hasattr(adapter, "_start_transaction")
            self._driver, self._adapter = (driver, adapter) if usable else (None, None)
            self._dialect = connection.dialect
        driver, adapter = self._driver, self._adapter
        if driver is None:
            return None
        if adapter._transaction is None:
            # Nothing sent yet in this transaction: begin it as the dialect would before its first statement (on a
            # connection set to AUTOCOMMIT, it begins nothing). The adapter then holds asyncpg's transaction, and
            # the session's commit or rollback ends it.
            # The caller meets asyncpg's error, as for every statement sent here, not the adapter's wrapper.
            async with self._invalidated_if_lost():
                with drivers_error():
                    await adapter._start_transaction()
        return driver
