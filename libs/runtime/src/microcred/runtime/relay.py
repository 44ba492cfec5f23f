"""The outbox relay: publishes committed events, in commit order, until Kafka has acknowledged them.

Guarantees:
- nothing rolled back is published (rows only exist once their transaction committed);
- nothing committed is lost: a row is stamped ``published_at`` only after Kafka acknowledged it with
  ``acks=all``; a crash or broker error leaves it unstamped, and the next pass sends it again.
  Delivery is therefore at-least-once, which is why every consumer deduplicates on ``event_id``;
- order per aggregate holds: one relay per service publishes at a time (a transaction-scoped advisory
  lock), in ``id`` order, and a failed batch is retried from its first row.

What is unsent is measured apart from publishing, by :meth:`OutboxRelay.measure` on the runtime's metrics loop:
one statement (count and oldest ``created_at`` of the unsent rows, over the partial index of unsent rows),
so one unsent row shows whatever the relay is doing, and an outage, when the backlog matters most, shows it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from microcred.runtime.cancellation import stop_if_cancelled
from microcred.runtime.direct import sent_as
from microcred.runtime.messaging_tables import MessagingTables
from microcred.runtime.outages import unavailable_dependency
from microcred.runtime.telemetry import attached_trace

log = logging.getLogger(__name__)

#: publish(topic, key, value, headers) -> a future resolved when the broker acknowledged the record.
Publish = Callable[[str, bytes, bytes, Mapping[str, str]], Awaitable["asyncio.Future[Any]"]]


class OutboxRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        publish: Publish,
        *,
        service: str,
        registry: CollectorRegistry,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        linger: float = 0.0,
        max_backoff: float = 10.0,
        retention: timedelta = timedelta(days=7),
        purge_every_seconds: float = 600.0,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = tables.outbox
        self._publish = publish
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._linger = linger
        self._max_backoff = max_backoff
        self._retention = retention
        self._purge_every = purge_every_seconds
        self._last_purge = 0.0
        self._wakeup = asyncio.Event()
        # The partial index ix_outbox_unpublished restricts this to the unsent rows, whatever the table holds.
        self._measure_unsent = (
            sa.select(sa.func.count(), sa.func.extract("epoch", sa.func.now() - sa.func.min(self._outbox.c.created_at)))
            .select_from(self._outbox).where(self._outbox.c.published_at.is_(None))
        )
        self._lock_key = zlib.crc32(f"microcred-outbox-relay:{service}".encode())
        self._compiled: tuple[Dialect, tuple[tuple[str, tuple[Any, ...]], tuple[str, tuple[Any, ...]]]] | None = None
        # A pass's two statements, built once: rebuilding them per pass costs their construction and cache keys (ADR 0002).
        self._try_lock = sa.select(sa.func.pg_try_advisory_xact_lock(self._lock_key))
        outbox = self._outbox
        unsent = sa.select(outbox.c.id).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(batch_size)
        self._stamp = (
            outbox.update()
            .where(outbox.c.id.in_(unsent.scalar_subquery()))
            .values(published_at=sa.func.now())
            .returning(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.payload, outbox.c.headers)
        )
        self.published = Counter(
            "microcred_outbox_published", "Outbox events published to Kafka", registry=registry
        )
        self.failures = Counter(
            "microcred_outbox_publish_failures", "Outbox batches that failed to publish", registry=registry
        )
        self.unsent = Gauge("microcred_outbox_unsent", "Outbox rows not yet published", registry=registry)
        self.oldest_unsent_age = Gauge(
            "microcred_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row (0 when none)",
            registry=registry,
        )

    def wake(self) -> None:
        """Called after a commit that wrote events, so they go out now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                sent = await self.publish_pending()
                if time.monotonic() - self._last_purge > self._purge_every:
                    await self.purge_published()
                    self._last_purge = time.monotonic()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)  # a stop request surfacing as a failed cleanup
                self.failures.inc()
                dependency = unavailable_dependency(exc)
                if dependency is None:
                    log.exception("outbox relay pass failed; retrying in %.1fs", backoff)
                else:  # an outage is expected weather, not a bug: one line, no traceback
                    log.warning("outbox relay pass failed, %s unavailable (%s: %s); retrying in %.1fs",
                                dependency, type(exc).__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if sent < self._batch_size:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
                if self._wakeup.is_set() and self._linger > 0:
                    # A pass costs the same four round trips and a produce request whether it carries one row or
                    # fifty: waiting a moment after a commit's wake-up lets the commits of that moment ride the
                    # same pass. Rows are already durable, so this only delays their publication by the linger.
                    await asyncio.sleep(self._linger)
                self._wakeup.clear()

    async def measure(self) -> None:
        """Set the unsent gauges from the database (the runtime's metrics loop calls this)."""
        async with self._session_factory() as session:
            unsent, age = (await session.execute(self._measure_unsent)).one()
        self.unsent.set(unsent or 0)
        self.oldest_unsent_age.set(max(float(age or 0), 0.0))

    async def purge_published(self, batch: int = 10_000) -> int:
        """Delete published rows older than the retention; unpublished rows are never touched."""
        outbox = self._outbox
        doomed = (
            sa.select(outbox.c.id)
            .where(outbox.c.published_at < sa.func.now() - self._retention)
            .limit(batch)
            .scalar_subquery()
        )
        async with self._session_factory() as session, session.begin():
            result = await session.execute(outbox.delete().where(outbox.c.id.in_(doomed)))
        return int(getattr(result, "rowcount", 0) or 0)

    async def publish_pending(self) -> int:
        """One pass: publish up to a batch of unsent rows and stamp them. Returns rows published.

        On the connection's asyncpg, BEGIN to COMMIT: a pass is four round trips that return nothing but the rows to
        send, where SQLAlchemy's session and result machinery cost more than the SQL (issue 22's sixth round). The
        statements are SQLAlchemy's, compiled once.
        """
        engine: AsyncEngine = self._session_factory.kw["bind"]  # a pass takes a connection of its own, no session
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert isinstance(driver, asyncpg.Connection)
            (lock_sql, lock_args), (stamp_sql, stamp_args) = self._sent_as(connection.dialect)
            try:
                async with driver.transaction():
                    # While another replica's relay holds the lock this pass reads as an empty outbox. The lock is
                    # its own statement, before the read: a statement sees the rows committed when it started, so a
                    # read that took the lock itself (one round trip, as it once did) could start just before the
                    # other relay's pass committed, get the lock as that pass released it, and publish that whole
                    # batch a second time (seen with two relays on one outbox: tests/integration/test_reliability).
                    if not await driver.fetchval(lock_sql, *lock_args):
                        return 0
                    # Stamped in the read, one statement instead of a SELECT and an UPDATE: the stamps commit only with
                    # this transaction, after every ack below, and an error or a crash before then rolls them back, so
                    # a row is still stamped only once Kafka has it. The rows stay locked meanwhile; nothing else
                    # updates them.
                    stamped = await driver.fetch(stamp_sql, *stamp_args)
                    rows = sorted(stamped, key=lambda row: row["id"])  # RETURNING has no order; commit order is id
                    if not rows:
                        return 0
                    acks = []
                    for row in rows:
                        with attached_trace(row["headers"]):
                            acks.append(await self._publish(row["topic"], row["key"], row["payload"], row["headers"]))
                    await asyncio.gather(*acks)
            finally:
                if driver.is_in_transaction() or driver.is_closed():
                    # Left inside the transaction (a cancellation that also interrupted the rollback) or closed by
                    # the server: never back into the pool like this. SQLAlchemy did not send this transaction, so
                    # its reset on return would not end it.
                    await connection.invalidate()
        self.published.inc(len(rows))
        return len(rows)

    def _sent_as(self, dialect: Dialect) -> tuple[tuple[str, tuple[Any, ...]], tuple[str, tuple[Any, ...]]]:
        if self._compiled is None or self._compiled[0] is not dialect:
            self._compiled = (dialect, (sent_as(self._try_lock, dialect), sent_as(self._stamp, dialect)))
        return self._compiled[1]
