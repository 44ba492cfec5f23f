"""The outbox and inbox tables every service has in its own database.

outbox: events written in the same transaction as the state change that caused them; the relay
publishes rows in ``id`` order and stamps ``published_at``, and deletes stamped rows once they are
older than the retention. A partial index keeps the scan for unsent rows cheap.

inbox: one row per (consumer, event_id) processed, inserted in the handler's transaction. The primary
key makes a redelivered event a no-op: the insert conflicts, and the handler does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert


@dataclass(frozen=True)
class MessagingTables:
    outbox: sa.Table
    inbox: sa.Table

    # Built once per service, their values given at execution: rebuilding them per message costs their construction
    # and cache keys (ADR 0002).
    @cached_property
    def claim(self) -> sa.Insert:
        """One inbox row (``consumer``, ``event_id``), or none when it is already there: a redelivery."""
        return insert(self.inbox).on_conflict_do_nothing().returning(self.inbox.c.event_id)

    @cached_property
    def claim_many(self) -> sa.Insert:
        """The inbox rows of a batch, given as two arrays of equal length (``consumers``, ``event_ids``), those
        already there left as they are: one statement whatever the batch's size, compiled once."""
        rows = sa.select(
            sa.func.unnest(sa.bindparam("consumers", type_=ARRAY(sa.Text))),
            sa.func.unnest(sa.bindparam("event_ids", type_=ARRAY(UUID(as_uuid=True)))),
        )
        return insert(self.inbox).from_select(["consumer", "event_id"], rows).on_conflict_do_nothing()

    @cached_property
    def add_to_outbox(self) -> sa.Insert:
        return self.outbox.insert()


def define_messaging_tables(metadata: sa.MetaData) -> MessagingTables:
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Index("ix_outbox_unpublished", "id", postgresql_where=sa.text("published_at IS NULL")),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    return MessagingTables(outbox=outbox, inbox=inbox)


def create_messaging_tables(bind: sa.engine.Connection) -> None:
    """Migration step in every service's first revision.

    It builds from the live definitions, so the outbox/inbox shape is written once. Changing
    ``define_messaging_tables`` therefore needs a new revision in every service that alters the
    existing tables, written so it is a no-op where the tables already have the new shape.
    """
    tables = define_messaging_tables(sa.MetaData())
    tables.outbox.create(bind)
    tables.inbox.create(bind)
