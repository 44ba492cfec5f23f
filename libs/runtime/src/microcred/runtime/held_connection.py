"""A unit of work's own pooled connection and transaction, with SQLAlchemy's session joined to it only when used.

Why: a transaction opened and ended through an ``AsyncSession`` costs the service about 0.3 ms of CPU more than the
same statements on a pooled asyncpg connection (``benchmarks/statement_costs.py``): the session's connection
(an engine ``Connection``, its ``SessionTransaction``), and its commit and close, each through SQLAlchemy's greenlet.
Issue 22's seventh round sent most statements past the session (``runtime.direct``); a unit of work still paid
for the session's frame around them, about 21 times per submission. With this, one whose statements all go past the
session never opens the session's frame at all.

How: the unit of work checks a connection out of the engine's pool at its first statement (the same pool, its
events and its pre-ping, as the session's checkout) and keeps it to its end. ``runtime.direct`` sends on it,
beginning the transaction as SQLAlchemy's dialect would, through its adapter's ``_start_transaction`` (ADR 0002,
third amendment). Should the unit of work also use its session (an ORM entity, a query built per call), the session
is bound to a SQLAlchemy ``Connection`` made around this same pooled connection, so it joins the same transaction:
its statements, its flush and its commit are on the same connection, in the same transaction, as the ones sent past
it. The commit goes through the session when the session took part, else straight to asyncpg's transaction.

A read-only unit of work (``UnitOfWork.without_transaction``) begins nothing: each statement is its own transaction,
and a session it uses is bound with the AUTOCOMMIT isolation level, reset when the connection returns to the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

_HELD_KEY = "microcred.runtime.held_connection"


class HeldConnection:
    """One unit of work's pooled connection: checked out at its first statement, released at its end."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.dialect: Dialect = engine.dialect
        self.reading = False  # no transaction: every statement its own (UnitOfWork.without_transaction)
        self._pooled: PoolProxiedConnection | None = None
        self._connection: Connection | None = None  # SQLAlchemy's, made only once the session needs one
        self.driver: asyncpg.Connection | None = None
        self._adapter: Any = None  # SQLAlchemy's adaptation of the asyncpg connection, which holds its transaction

    def session(self, factory: Any) -> AsyncSession:
        """A session of ``factory`` (an ``async_sessionmaker``) whose statements run on this connection."""
        session: AsyncSession = factory(sync_session_class=_HeldSession)
        session.info[_HELD_KEY] = self  # the sync session's info, which its get_bind reads
        return session

    async def driver_in_transaction(self) -> asyncpg.Connection:
        """The asyncpg connection, its transaction begun (unless reading): for a statement sent past the session."""
        if self._pooled is None:
            with drivers_error():
                self._use(await self._engine.raw_connection())
        adapter = self._adapter
        if not self.reading and adapter._transaction is None:
            async with self.invalidated_if_lost():
                with drivers_error():
                    await adapter._start_transaction()
        assert self.driver is not None
        return self.driver

    def bind(self) -> Connection:
        """SQLAlchemy's ``Connection`` around this pooled connection, for the session; called inside its greenlet,
        where checking a connection out of the pool may wait."""
        if self._connection is None:
            if self._pooled is None:
                with drivers_error():
                    self._use(self._engine.sync_engine.raw_connection())
            connection = Connection(self._engine.sync_engine, connection=self._pooled)
            if self.reading:
                # Set on the client only, and put back by the pool when the connection returns (as for a session).
                connection.execution_options(isolation_level="AUTOCOMMIT")
            self._connection = connection
        return self._connection

    def _use(self, pooled: PoolProxiedConnection) -> None:
        self._pooled = pooled
        self.driver, self._adapter = pooled.driver_connection, pooled.dbapi_connection

    @property
    def in_transaction(self) -> bool:
        return self._adapter is not None and self._adapter._transaction is not None

    async def commit(self, session: AsyncSession) -> None:
        """Commit what was done on this connection: through ``session`` if it took part (it flushes, then ends the
        transaction through its connection, which is this one), else on asyncpg's transaction."""
        orm = session.sync_session
        if orm.in_transaction() or orm.new or orm.dirty or orm.deleted:
            await session.commit()
        if self.in_transaction:
            # As the adapter's own commit does: the transaction is over whether or not COMMIT succeeds.
            transaction, self._adapter._transaction = self._adapter._transaction, None
            async with self.invalidated_if_lost():
                await transaction.commit()

    @asynccontextmanager
    async def invalidated_if_lost(self) -> AsyncIterator[None]:
        """Around a statement sent on the driver: a connection it leaves unusable is invalidated (see
        :func:`left_unusable`), as SQLAlchemy does when it meets one."""
        try:
            yield
        except BaseException as error:
            if self.driver is not None and left_unusable(self.driver, error):
                await self.invalidate()
            raise

    async def release(self) -> None:
        """Roll back what is still open and return the connection to the pool; one the server closed, or left
        mid-operation by a cancellation, is invalidated instead of being handed out again."""
        if self._pooled is None:
            return
        try:
            if self.in_transaction and self.driver is not None and not self.driver.is_closed():
                transaction, self._adapter._transaction = self._adapter._transaction, None
                async with self.invalidated_if_lost():
                    await transaction.rollback()
        finally:
            pooled, connection, self._pooled, self._connection = self._pooled, self._connection, None, None
            # Closing SQLAlchemy's Connection returns the pooled one; the pool resets it on the way (its isolation
            # level, and a rollback that finds nothing open).
            await greenlet_spawn(connection.close if connection is not None else pooled.close)

    async def invalidate(self) -> None:
        """The connection is lost or mid-operation: closed now, and never handed out by the pool again."""
        if self.driver is not None:
            self.driver.terminate()
        if self._adapter is not None:
            self._adapter._transaction = None  # nothing left to end on a terminated connection
        if self._connection is not None:
            await greenlet_spawn(self._connection.invalidate)
        elif self._pooled is not None:
            await greenlet_spawn(self._pooled.invalidate)


@contextmanager
def drivers_error() -> Iterator[None]:
    """asyncpg's error, not the DB-API wrapper SQLAlchemy's adapter raises from it at a checkout or a BEGIN (the
    engine's ``connect`` would have wrapped that again): what a statement sent past the session meets, and what
    ``runtime.outages`` and an API's 503 handler know (PostgreSQL starting up, refusing connections)."""
    try:
        yield
    except Exception as error:
        if isinstance(error.__cause__, asyncpg.PostgresError | asyncpg.InterfaceError | asyncpg.InternalClientError | OSError):
            raise error.__cause__ from None
        raise


def left_unusable(driver: asyncpg.Connection, error: BaseException) -> bool:
    """Whether ``error``, met on ``driver``, leaves it unfit for another statement."""
    return (
        driver.is_closed()  # the server closed it: an outage, a terminated backend
        # A dying connection's protocol still consuming the server's FATAL (runtime.outages).
        or isinstance(error, asyncpg.InternalClientError)
        # Cancelled mid-statement: asyncpg's protocol is left mid-operation, and the next statement on the
        # connection would meet that. SQLAlchemy invalidates a connection on such an exit too.
        or not isinstance(error, Exception)
    )


def held_connection_of(session: AsyncSession) -> HeldConnection | None:
    """The connection ``session`` runs on, when it was made by :meth:`HeldConnection.session`."""
    return session.info.get(_HELD_KEY)  # type: ignore[no-any-return]


class _HeldSession(Session):
    """A session whose every statement runs on its unit of work's :class:`HeldConnection`."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.info[_HELD_KEY].bind()
