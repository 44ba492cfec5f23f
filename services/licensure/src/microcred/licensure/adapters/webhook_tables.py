"""Webhook tables: subscriptions (one receiver of one state's feed, or of one of its districts') and their
deliveries (the outbox).

Unique (subscription_id, event_id) makes enqueueing the same record twice a no-op, so a redelivered
Kafka event that re-runs a use case never doubles a webhook. The partial index on pending deliveries
is what the worker's ``FOR UPDATE SKIP LOCKED`` scan reads; delivered and dead rows stay out of it.

The body is TEXT, not JSONB: JSONB reorders keys, and a replay must send the bytes first enqueued.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from microcred.licensure.adapters.orm import Base

# A literal, not a bound parameter: PostgreSQL only uses a partial index when it can prove the query's
# predicate implies the index's, and a prepared statement's ``status = $1`` proves nothing.
PENDING = sa.text("webhook_deliveries.status = 'pending'")


class WebhookSubscriptionRow(Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        sa.Index("ix_webhook_subscriptions_active_state", "state", postgresql_where=sa.text("active")),
        sa.CheckConstraint("char_length(secret) >= 32", name="ck_webhook_subscriptions_secret"),
    )

    subscription_id: Mapped[UUID] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(2))
    district: Mapped[str | None] = mapped_column(sa.Text)  # null: the whole state's records
    url: Mapped[str] = mapped_column(sa.Text)
    secret: Mapped[str] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_by: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    deactivated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class WebhookDeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_subscription_event"),
        sa.Index(
            "ix_webhook_deliveries_due", "status", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")
        ),
        sa.Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="ck_webhook_deliveries_status"),
    )

    delivery_id: Mapped[UUID] = mapped_column(primary_key=True)
    subscription_id: Mapped[UUID] = mapped_column(sa.ForeignKey("webhook_subscriptions.subscription_id"))
    event_id: Mapped[UUID] = mapped_column()
    record_type: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(server_default="0")
    round_attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    first_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
