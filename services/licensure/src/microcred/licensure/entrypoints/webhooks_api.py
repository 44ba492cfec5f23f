"""Webhook HTTP API: state admins and operators manage a state's signed webhooks, district admins their
district's. No rules here.

A subscription's secret appears in exactly one response, the 201 that creates it; every other view
leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from microcred.licensure.domain.webhooks import Delivery, DeliveryStatus, Subscription
from microcred.licensure.service_layer import webhooks
from microcred.licensure.service_layer.webhooks import WebhookUnitOfWork
from microcred.runtime.api import api_router, links
from microcred.runtime.api_types import Count, PageOffset, StateCode
from microcred.runtime.auth import Principal, Role, require

Manager = Annotated[Principal, require(Role.OPERATOR, Role.STATE_ADMIN, Role.DISTRICT_ADMIN)]


def subscription_view(subscription: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": str(subscription.subscription_id),
        "state": subscription.state,
        "district": subscription.district,
        "url": subscription.url,
        "active": subscription.active,
        "created_by": subscription.created_by,
        "created_at": subscription.created_at.isoformat(),
    }


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    def when(moment: Any) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "delivery_id": str(delivery.delivery_id),
        "subscription_id": str(delivery.subscription_id),
        "event_id": str(delivery.event_id),
        "record_type": delivery.record_type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": when(delivery.next_attempt_at) if delivery.status is DeliveryStatus.PENDING else None,
        "created_at": when(delivery.created_at),
        "last_attempt_at": when(delivery.last_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": when(delivery.delivered_at),
        "payload": delivery.payload,
    }


def create_webhook_router(uow: Callable[[], WebhookUnitOfWork], *, allow_http: bool) -> APIRouter:
    """``uow`` is the licensure unit of work factory; ``allow_http`` is true in local mode only."""
    router = api_router(prefix="/webhooks", tags=["webhooks"])

    @router.post("", status_code=status.HTTP_201_CREATED, responses=links(
        201, **{op: {"subscription_id": "$response.body#/subscription_id"}
                for op in ("list_deliveries", "replay", "unsubscribe")}))
    async def subscribe(body: webhooks.Subscribe, principal: Manager) -> dict[str, Any]:
        """Subscribe a URL to a state's feed, or to one district's part of it (the records of its licenses). The
        response holds the signing secret; it is not shown again."""
        subscription = await webhooks.subscribe(body, principal, uow(), allow_http=allow_http)
        return subscription_view(subscription) | {"secret": subscription.secret}

    @router.get("")
    async def list_subscriptions(
        principal: Manager, state: Annotated[StateCode | None, Query()] = None
    ) -> list[dict[str, Any]]:
        return [subscription_view(s) for s in await webhooks.list_subscriptions(state, principal, uow())]

    @router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def unsubscribe(subscription_id: UUID, principal: Manager) -> Response:
        await webhooks.unsubscribe(subscription_id, principal, uow())
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get("/{subscription_id}/deliveries")
    async def list_deliveries(
        subscription_id: UUID,
        principal: Manager,
        delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
        limit: Annotated[Count, Query(ge=1, le=200)] = 50,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> list[dict[str, Any]]:
        found = await webhooks.list_deliveries(
            subscription_id, delivery_status, principal, uow(), limit=limit, offset=offset
        )
        return [delivery_view(delivery) for delivery in found]

    @router.post("/{subscription_id}/replay")
    async def replay(subscription_id: UUID, body: webhooks.Replay, principal: Manager) -> dict[str, int]:
        return {"requeued": await webhooks.replay(subscription_id, body, principal, uow())}

    return router
