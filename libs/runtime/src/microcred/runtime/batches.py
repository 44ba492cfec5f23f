"""One database transaction for a fetched batch of one partition's messages (see runtime.consumer).

Every consumed message used to cost BEGIN, an inbox INSERT, the state change, an outbox INSERT and COMMIT:
most of a consumer's round trips were this frame, not its work. While a :class:`SharedTransaction` is set
in :data:`shared_transaction_var`, every :class:`~microcred.runtime.uow.UnitOfWork` the handlers open joins
it instead of opening its own:

- the first one to enter opens the session, and the others reuse it (BEGIN once);
- ``claim`` answers from the claims made so far in this batch (a second delivery of an event inside one
  batch is refused, as the inbox would refuse it) and keeps the row for later;
- ``commit`` makes the events' outbox rows now (in its message's trace context) and keeps them for later,
  flushes the handler's ORM changes and forgets the loaded objects, so the next message's handler loads
  afresh, as it would in a session of its own;
- :meth:`SharedTransaction.commit` then writes every inbox row in one INSERT, every outbox row in one
  INSERT, and commits once; only then does the consumer run the units of work's after-commit steps (relay
  wake-up, metrics), kept in ``after_commit``.

The handlers are not changed and cannot tell. The inbox guarantee holds because the inbox rows go in with
``ON CONFLICT DO NOTHING RETURNING``: if any was already there (a redelivery after a crash, or a message a
rebalance handed to two consumers at once), the batch raises :class:`BatchConflict` before committing, and
the consumer rolls everything back and handles the batch one transaction per message, the old way, where
the inbox refuses the duplicate exactly as before. A unit of work left without ``commit`` other than after a
refused claim (a handler that chose to roll back) cannot be undone alone in a shared transaction, so it marks
the batch ``abandoned``, which leads to the same fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from microcred.runtime.direct import direct_of
from microcred.runtime.messaging_tables import MessagingTables


class BatchConflict(Exception):
    """The batch cannot commit as one transaction; the consumer handles its messages one by one."""


@dataclass
class SharedTransaction:
    session: AsyncSession | None = None
    tables: MessagingTables | None = None
    source: str = ""
    #: Inbox claims granted in this batch, in order (a dict as an ordered set).
    claims: dict[tuple[str, UUID], None] = field(default_factory=dict)
    #: Outbox rows, each made when its unit of work committed (in its message's trace context).
    rows: list[dict[str, Any]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    #: Set when a unit of work left without committing a granted claim (see the module's docstring).
    abandoned: bool = False

    def join(self, factory: async_sessionmaker[AsyncSession], tables: MessagingTables, source: str) -> AsyncSession:
        if self.session is None:
            self.session, self.tables, self.source = factory(), tables, source
        elif tables is not self.tables or source != self.source:
            # Two databases (or services) in one batch cannot share one transaction.
            raise BatchConflict("units of work of different databases in one batch")
        return self.session

    def claim(self, consumer: str, event_id: UUID) -> bool:
        key = (consumer, event_id)
        if key in self.claims:
            return False
        self.claims[key] = None
        return True

    async def commit(self) -> None:
        """Write the batch's inbox and outbox rows and commit; BatchConflict if an inbox row already existed."""
        if self.session is None:
            return  # no handler opened a unit of work: nothing to commit
        assert self.tables is not None
        if self.abandoned:
            raise BatchConflict("a handler left its unit of work without committing")
        if self.claims:
            inserted = await direct_of(self.session).affected(self.tables.claim_many, {
                "consumers": [consumer for consumer, _ in self.claims],
                "event_ids": [event_id for _, event_id in self.claims],
            })
            if inserted != len(self.claims):
                raise BatchConflict("an event of the batch was already in the inbox")
        if self.rows:
            await direct_of(self.session).execute(self.tables.add_to_outbox, self.rows)
        await self.session.commit()

    async def close(self) -> None:
        if self.session is not None:
            try:
                await self.session.rollback()  # a no-op after commit
            finally:
                await self.session.close()


shared_transaction_var: ContextVar[SharedTransaction | None] = ContextVar("shared_transaction", default=None)
