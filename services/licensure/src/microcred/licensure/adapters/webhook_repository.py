"""Webhook subscriptions and deliveries in PostgreSQL. The unit of work owns the session and commits.

``enqueue`` runs inside the use case's transaction (the outbox rule); ``claim_due`` locks the rows it
returns with ``FOR UPDATE SKIP LOCKED`` until that transaction ends, so several replicas running the
worker each take different deliveries and none is sent twice at once.

A repository lives for one transaction (the unit of work binds a new one to each), so ``enqueue`` looks up
the receivers of a (state, district) once per transaction and every record of that transaction goes to the
same subscriptions: one award writes several records for one license, and most states subscribe nothing.
Nothing is kept across transactions: another replica may add a subscription at any time.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import StateFeedRecord
from microcred.licensure.adapters.webhook_tables import PENDING, WebhookDeliveryRow, WebhookSubscriptionRow
from microcred.licensure.domain.webhooks import Delivery, DeliveryStatus, Subscription, new_delivery
from microcred.runtime.direct import direct_of

REPLAYABLE = (DeliveryStatus.DELIVERED.value, DeliveryStatus.DEAD.value)
# What every feed record of an award sends (enqueue), on the tables: the ORM's bulk-insert plumbing cost more
# than the statements.
_DELIVERIES = cast(sa.Table, WebhookDeliveryRow.__table__)
_SUBSCRIPTIONS = cast(sa.Table, WebhookSubscriptionRow.__table__)
# The receivers of every award's feed records, built once so the cache key is computed once (as in
# adapters/statements.py): a record without a district goes to the state's subscriptions only (IS NULL, never
# a bound NULL), one with a district to the state's and that district's.
_RECEIVERS = sa.select(_SUBSCRIPTIONS.c.subscription_id).where(
    _SUBSCRIPTIONS.c.state == sa.bindparam("state"), _SUBSCRIPTIONS.c.active)
_RECEIVERS_OF_STATE = _RECEIVERS.where(_SUBSCRIPTIONS.c.district.is_(None))
_RECEIVERS_OF_DISTRICT = _RECEIVERS.where(
    sa.or_(_SUBSCRIPTIONS.c.district.is_(None), _SUBSCRIPTIONS.c.district == sa.bindparam("district")))


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)
        self._receivers: dict[tuple[str, str | None], list[UUID]] = {}

    async def undelivered_by_state(self) -> dict[tuple[str, str], int]:
        """Deliveries not delivered, per (state, status): ``pending`` never tried, ``failed`` tried and retrying,
        ``dead`` given up. Delivered rows, the bulk of the table, are never read."""
        delivery, subscription = WebhookDeliveryRow.__table__, WebhookSubscriptionRow.__table__
        status = sa.case(
            (delivery.c.status == "dead", "dead"), (delivery.c.attempts > 0, "failed"), else_="pending"
        ).label("status")
        query = (
            sa.select(subscription.c.state, status, sa.func.count())
            .select_from(delivery.join(subscription, delivery.c.subscription_id == subscription.c.subscription_id))
            .where(sa.text("webhook_deliveries.status IN ('pending', 'dead')"))
            .group_by(subscription.c.state, status)
        )
        return {(state, kind): count for state, kind, count in await self.session.execute(query)}

    async def enqueue(self, record: StateFeedRecord, now: datetime | None = None) -> int:
        """One pending delivery per active subscription that receives the record (domain.webhooks.receives: the
        state's, and its district's when the record's license has one); how many were new."""
        now = now or datetime.now(UTC)
        subscription_ids = await self._receivers_of(record.state, record.district)
        if not subscription_ids:
            return 0
        deliveries = [new_delivery(subscription_id, record, now) for subscription_id in subscription_ids]
        inserted = await self.session.execute(
            insert(_DELIVERIES)
            .values([_delivery_values(delivery) for delivery in deliveries])
            .on_conflict_do_nothing(index_elements=[_DELIVERIES.c.subscription_id, _DELIVERIES.c.event_id])
            .returning(_DELIVERIES.c.delivery_id)
        )
        return len(inserted.all())

    async def _receivers_of(self, state: str, district: str | None) -> list[UUID]:
        """The active subscriptions receiving a record of ``state`` and ``district``, read once per transaction."""
        key = (state, district)
        if key not in self._receivers:
            if district is None:
                found = await self.direct.scalars(_RECEIVERS_OF_STATE, {"state": state})
            else:
                found = await self.direct.scalars(_RECEIVERS_OF_DISTRICT, {"state": state, "district": district})
            self._receivers[key] = list(found)
        return self._receivers[key]

    async def add_subscription(self, subscription: Subscription) -> None:
        self._receivers.clear()  # this transaction's own change is seen by its later records
        self.session.add(
            WebhookSubscriptionRow(
                subscription_id=subscription.subscription_id,
                state=subscription.state,
                district=subscription.district,
                url=subscription.url,
                secret=subscription.secret,
                active=subscription.active,
                created_by=subscription.created_by,
                created_at=subscription.created_at,
            )
        )
        await self.session.flush()

    async def get_subscription(self, subscription_id: UUID) -> Subscription | None:
        row = await self.session.get(WebhookSubscriptionRow, subscription_id)
        return None if row is None else _subscription(row)

    async def list_subscriptions(self, state: str | None, district: str | None = None) -> list[Subscription]:
        """The subscriptions of ``state`` (all states if None); with ``district``, that district's only."""
        query = sa.select(WebhookSubscriptionRow)
        if state is not None:
            query = query.where(WebhookSubscriptionRow.state == state)
        if district is not None:
            query = query.where(WebhookSubscriptionRow.district == district)
        query = query.order_by(WebhookSubscriptionRow.state, WebhookSubscriptionRow.created_at)
        return [_subscription(row) for row in await self.session.scalars(query)]

    async def deactivate(self, subscription_id: UUID, now: datetime | None = None) -> bool:
        """Stop the subscription; its undelivered deliveries become dead so none is left pending forever.

        False when it did not exist or was already inactive.
        """
        now = now or datetime.now(UTC)
        self._receivers.clear()
        changed = await self.session.execute(
            sa.update(WebhookSubscriptionRow)
            .where(WebhookSubscriptionRow.subscription_id == subscription_id, WebhookSubscriptionRow.active)
            .values(active=False, deactivated_at=now)
            .returning(WebhookSubscriptionRow.subscription_id)
        )
        if changed.first() is None:
            return False
        await self.session.execute(
            sa.update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.subscription_id == subscription_id, PENDING)
            .values(status=DeliveryStatus.DEAD.value, last_error="subscription deactivated")
        )
        return True

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries due by ``now``, oldest due first, locked until the transaction ends."""
        query = (
            sa.select(WebhookDeliveryRow)
            .join(WebhookSubscriptionRow, WebhookSubscriptionRow.subscription_id == WebhookDeliveryRow.subscription_id)
            .where(PENDING, WebhookDeliveryRow.next_attempt_at <= now, WebhookSubscriptionRow.active)
            .order_by(WebhookDeliveryRow.next_attempt_at)
            .limit(limit)
            .with_for_update(of=WebhookDeliveryRow, skip_locked=True)
        )
        return [_delivery(row) for row in await self.session.scalars(query)]

    async def save(self, delivery: Delivery) -> None:
        await self.session.execute(
            sa.update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.delivery_id == delivery.delivery_id)
            .values(
                status=delivery.status.value,
                attempts=delivery.attempts,
                round_attempts=delivery.round_attempts,
                next_attempt_at=delivery.next_attempt_at,
                first_attempt_at=delivery.first_attempt_at,
                last_attempt_at=delivery.last_attempt_at,
                last_status_code=delivery.last_status_code,
                last_error=delivery.last_error,
                delivered_at=delivery.delivered_at,
            )
        )

    async def list_deliveries(
        self, subscription_id: UUID, status: DeliveryStatus | None, limit: int, offset: int
    ) -> list[Delivery]:
        query = sa.select(WebhookDeliveryRow).where(WebhookDeliveryRow.subscription_id == subscription_id)
        if status is not None:
            query = query.where(WebhookDeliveryRow.status == status.value)
        query = (
            query.order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.delivery_id)
            .limit(limit)
            .offset(offset)
        )
        return [_delivery(row) for row in await self.session.scalars(query)]

    async def replay(
        self,
        subscription_id: UUID,
        since: datetime | None,
        delivery_ids: Collection[UUID] | None,
        now: datetime | None = None,
    ) -> int:
        """Re-queue the subscription's delivered or dead deliveries created since ``since`` and/or named
        in ``delivery_ids``, as :func:`~microcred.licensure.domain.webhooks.requeue` does; how many."""
        now = now or datetime.now(UTC)
        query = sa.update(WebhookDeliveryRow).where(
            WebhookDeliveryRow.subscription_id == subscription_id, WebhookDeliveryRow.status.in_(REPLAYABLE)
        )
        if since is not None:
            query = query.where(WebhookDeliveryRow.created_at >= since)
        if delivery_ids is not None:
            query = query.where(WebhookDeliveryRow.delivery_id.in_(list(delivery_ids)))
        requeued = await self.session.execute(
            query.values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                round_attempts=0,
                first_attempt_at=None,
                delivered_at=None,
            ).returning(WebhookDeliveryRow.delivery_id)
        )
        return len(requeued.all())


def _delivery_values(delivery: Delivery) -> dict[str, object]:
    return {
        "delivery_id": delivery.delivery_id,
        "subscription_id": delivery.subscription_id,
        "event_id": delivery.event_id,
        "record_type": delivery.record_type,
        "body": delivery.body.decode(),
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "round_attempts": delivery.round_attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
    }


def _subscription(row: WebhookSubscriptionRow) -> Subscription:
    return Subscription(
        subscription_id=row.subscription_id,
        state=row.state,
        url=row.url,
        secret=row.secret,
        active=row.active,
        created_by=row.created_by,
        created_at=row.created_at,
        district=row.district,
    )


def _delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        delivery_id=row.delivery_id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        record_type=row.record_type,
        body=row.body.encode(),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        round_attempts=row.round_attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        first_attempt_at=row.first_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
    )
