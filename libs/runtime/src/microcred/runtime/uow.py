"""The unit of work: one database transaction holding a state change, its events and its inbox mark.

Events recorded with :meth:`UnitOfWork.publish` become outbox rows inside the same transaction, so
they are published if and only if the state change commits. Leaving the block without ``commit()``
rolls everything back. Repositories receive the session from here and never commit themselves.

The unit of work holds its own pooled connection from its first statement to its end (runtime.held_connection):
statements sent past the session (runtime.direct) go on it, and the session, if used at all, joins it, so both
share one transaction.

Inside a consumer's batch (runtime.batches) a unit of work joins the batch's one transaction
instead: same calls, with the inbox and outbox rows written and the commit made once for the batch.

A read-only use case may leave the transaction out altogether (:meth:`UnitOfWork.without_transaction`);
such a unit of work refuses to commit.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from microcred.events import IntegrationEvent
from microcred.runtime.batches import SharedTransaction, shared_transaction_var
from microcred.runtime.context import inbox_claims_var
from microcred.runtime.direct import direct_of
from microcred.runtime.held_connection import HeldConnection
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.outbox import outbox_row


class UnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        source: str,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._session_factory = session_factory
        self._tables = tables
        self._source = source
        self._on_commit = on_commit
        self._pending: list[IntegrationEvent] = []
        self._committed = False
        self._reading = False
        self._shared: SharedTransaction | None = None
        self._held: HeldConnection | None = None
        self._granted = self._refused = 0
        # The unit of work holds its own pooled connection when its factory is an async_sessionmaker bound to an
        # engine (runtime.held_connection); any other factory (a test's fake sessions) keeps the session's own frame.
        bind = getattr(session_factory, "kw", {}).get("bind")
        self._engine = bind if isinstance(bind, AsyncEngine) else None

    async def __aenter__(self) -> Self:
        self._shared = shared_transaction_var.get()
        self._held = None
        if self._shared is not None:
            self.session = self._shared.join(self._session_factory, self._tables, self._source)
        elif self._engine is not None:
            self._held = HeldConnection(self._engine)
            self.session = self._held.session(self._session_factory)
        else:
            self.session = self._session_factory()
        self._pending = []
        self._committed = False
        self._reading = False
        self._granted = self._refused = 0
        self.bind_repositories(self.session)
        return self

    def bind_repositories(self, session: AsyncSession) -> None:
        """Services override this to attach their repositories to the session."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._shared is not None:
            # The batch owns the session. Left without commit, this unit of work's writes (if any) cannot be
            # undone alone, so the batch falls back, unless the inbox refused its claims (a duplicate: nothing
            # was done). An error escaping the handler makes the consumer roll back the whole batch anyway.
            duplicate = self._refused and not self._granted
            if not self._committed and not duplicate and exc_type is None:
                self._shared.abandoned = True
            return
        if self._held is not None:
            orm = self.session.sync_session
            if not (orm.in_transaction() or orm.identity_map or orm.new or orm.deleted):
                # The session was never used: nothing of its own to roll back or close (each a greenlet's trip).
                await self._held.release()  # rolls back what was sent past the session, if not committed
                return
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            try:
                await self.session.close()
            finally:
                if self._held is not None:
                    await self._held.release()

    async def without_transaction(self) -> None:
        """Read without BEGIN and ROLLBACK: each statement of this unit of work is its own implicit transaction.

        For read-only use cases, before their first statement (after one, it raises). The unit of work's connection
        then begins no transaction (runtime.held_connection), and a session it uses is set to AUTOCOMMIT, on the
        client alone, which the pool puts back when the connection returns. Two round trips saved per read, and
        nothing a reader relied on: at READ COMMITTED, PostgreSQL's default and the level every service runs at, each
        statement of a transaction already read its own snapshot, so the statements of a use case never shared one.
        What must agree is read in one statement (a page and its total: review's ``ReviewRepository._page``). A use
        case that locks (FOR UPDATE, an advisory lock) or writes must not call this: its lock would end with its
        statement.

        Inside a consumer's batch the batch's transaction is already open and stays as it is.
        """
        self._reading = True
        if self._held is not None:
            if self._held.in_transaction:
                raise RuntimeError("without_transaction() comes before the unit of work's first statement")
            self._held.reading = True
        elif self._shared is None:
            await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    def publish(self, *events: IntegrationEvent) -> None:
        self._pending.extend(events)

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        """Mark ``event_id`` processed by ``consumer``; False if it already was (a redelivery)."""
        if self._shared is not None:
            # Written with the batch's other claims at its commit, which refuses the batch if one was there.
            granted = self._shared.claim(consumer, event_id)
        else:
            # Usually a handler's first statement: past SQLAlchemy, it begins the transaction there too (runtime.direct).
            granted = await direct_of(self.session).inserted(
                self._tables.claim, {"consumer": consumer, "event_id": event_id}
            )
        self._granted += granted
        self._refused += not granted
        # The consumer counts a message whose claims were all refused as a duplicate (runtime.consumer).
        claims = inbox_claims_var.get()
        if claims is not None:
            if granted:
                claims.granted += 1
            else:
                claims.refused += 1
        return granted

    async def commit(self) -> None:
        # Every statement has already committed on its own: a write here would not be atomic with anything.
        if self._reading:
            raise RuntimeError("a unit of work reading without a transaction cannot commit")
        events = tuple(self._pending)
        if self._shared is not None:
            # The ORM changes go to the database now (a constraint fails in this handler, not at the batch's
            # end), and the next handler loads afresh, as in a session of its own.
            await self.session.flush()
            self.session.expunge_all()
            # The rows now, in this message's trace context: their trace headers are the handler's, not whatever is
            # current when the batch commits.
            self._shared.rows.extend(outbox_row(event, self._source) for event in events)
            self._shared.after_commit.append(lambda: self._after_commit(events))
            self._committed = True
            self._pending = []
            return
        if events:
            # Past SQLAlchemy's execution layer (runtime.direct): one round trip, one row or many.
            await direct_of(self.session).execute(
                self._tables.add_to_outbox, [outbox_row(event, self._source) for event in events]
            )
        if self._held is not None:
            await self._held.commit(self.session)
        else:
            await self.session.commit()
        self._committed = True
        self._pending = []
        self._after_commit(events)

    def _after_commit(self, events: tuple[IntegrationEvent, ...]) -> None:
        if events:
            self._on_commit()
        self.committed(events)

    def committed(self, events: tuple[IntegrationEvent, ...]) -> None:
        """Called once the transaction committed, with the events it wrote: where a service counts what
        happened (its metrics), so a rolled-back or refused transaction counts nothing."""


M = TypeVar("M")


class MeteredUnitOfWork(UnitOfWork, Generic[M]):
    """A unit of work that counts what its committed transactions did in the service's metrics object.

    ``metrics_type`` builds one when none is given (a unit of work of its own); the service's composition root
    passes the one its registry exports, and a test passes its own.
    """

    metrics_type: type[M]

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        source: str,
        on_commit: Callable[[], None] = lambda: None,
        *,
        metrics: M | None = None,
    ) -> None:
        super().__init__(session_factory, tables, source, on_commit)
        self.metrics: M = metrics if metrics is not None else self.metrics_type()
