"""Webhook use cases: managing a state's subscriptions, and the worker that delivers what was enqueued.

Who may manage a subscription: an operator, or a state admin whose token names the subscription's
state; a district's subscription (issue 21: a district's own webhook of its teachers' records) also its
district admin, whose token names that state and district. A district admin sees and manages their own
district's subscriptions only: any other is answered as missing (404), as the rest of licensure does. The worker holds the claimed rows locked while it sends (one transaction per batch), so a crash
mid-batch rolls back and the batch is sent again: at least once, receivers dedupe on the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Annotated, Protocol, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from microcred.licensure.adapters.metrics import LicensureMetrics
from microcred.licensure.adapters.webhook_repository import WebhookRepository
from microcred.licensure.domain.webhooks import (
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    MIN_SECRET_LENGTH,
    Delivery,
    DeliveryStatus,
    Subscription,
    WebhookSchedule,
    delivery_headers,
    new_subscription,
    record_attempt,
)
from microcred.licensure.service_layer.permissions import administers_district, may_administer, may_manage_webhook
from microcred.runtime.api_types import StateCode, Text, Timestamp
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)

MAX_REPLAY_IDS = 1000


class WebhookUnitOfWork(Protocol):
    """The part of ``LicensureUnitOfWork`` these use cases need (it binds ``webhooks``)."""

    webhooks: WebhookRepository
    metrics: LicensureMetrics

    async def without_transaction(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


class Sender(Protocol):
    async def send(
        self, url: str, secret: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]: ...


class WebhookSettings(Protocol):
    webhook_retry_base_seconds: float
    webhook_retry_max_seconds: float
    webhook_give_up_after_hours: float
    webhook_poll_interval_seconds: float


class Subscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: StateCode
    district: Annotated[Text, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="Send only the records of this district's licenses; omit it for the whole state's. A district "
        "admin's subscription is always their district's.",
    )
    url: Annotated[Text, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    secret: Annotated[Text, Field(min_length=MIN_SECRET_LENGTH, max_length=MAX_SECRET_LENGTH)] | None = Field(
        default=None,
        repr=False,
        description="The shared HMAC secret; omit it to have one generated. Shown only in this response.",
    )


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Timestamp | None = Field(default=None, description="Re-send deliveries created at or after this.")
    delivery_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=MAX_REPLAY_IDS)

    @model_validator(mode="after")
    def _names_what_to_replay(self) -> Replay:
        # Replaying a subscription's whole history by accident would flood the receiver.
        if self.since is None and self.delivery_ids is None:
            raise ValueError("name the deliveries to replay: since, delivery_ids or both")
        return self


def webhook_schedule(settings: WebhookSettings) -> WebhookSchedule:
    return WebhookSchedule(
        base_seconds=settings.webhook_retry_base_seconds,
        max_seconds=settings.webhook_retry_max_seconds,
        give_up_after=timedelta(hours=settings.webhook_give_up_after_hours),
    )


def _refuse_unless_manages(principal: Principal, state: str) -> None:
    if not may_administer(principal, state):
        raise Forbidden(f"you do not administer {state}'s webhooks", code="state_not_administered")


def _scope(principal: Principal, state: str, district: str | None) -> str | None:
    """The district a new subscription is for: what a state's admin asks (a district, or none for the state); a
    district admin's own district, when they name none or theirs. Anyone else is refused."""
    if may_administer(principal, state):
        return district
    own = principal.district if principal.has(Role.DISTRICT_ADMIN) else None
    if district is None and own is not None and administers_district(principal, state, own):
        return own
    if administers_district(principal, state, district):
        return district
    if own is not None and state in principal.states:
        raise Forbidden(f"you administer the webhooks of {own} only", code="district_not_administered")
    raise Forbidden(f"you do not administer {state}'s webhooks", code="state_not_administered")


async def _visible_subscription(uow: WebhookUnitOfWork, subscription_id: UUID, principal: Principal) -> Subscription:
    # Another state's, or another district's, subscription is answered as a missing one: its existence is that
    # state's or district's business.
    subscription = await uow.webhooks.get_subscription(subscription_id)
    if subscription is None or not may_manage_webhook(principal, subscription.state, subscription.district):
        raise NotFound(f"webhook {subscription_id} does not exist", code="webhook_not_found")
    return subscription


async def subscribe(
    command: Subscribe, principal: Principal, uow: WebhookUnitOfWork, *, allow_http: bool, now: datetime | None = None
) -> Subscription:
    """Create a subscription; the returned one carries the secret, which is never returned again."""
    district = _scope(principal, command.state, command.district)
    subscription = new_subscription(
        state=command.state,
        district=district,
        url=command.url,
        secret=command.secret,
        created_by=principal.subject,
        now=now or datetime.now(UTC),
        allow_http=allow_http,
    )
    async with uow:
        await uow.webhooks.add_subscription(subscription)
        await uow.commit()
    log.info("webhook %s subscribed for %s (%s) by %s", subscription.subscription_id, subscription.state,
             subscription.district or "the whole state", principal.subject)
    return subscription


async def unsubscribe(subscription_id: UUID, principal: Principal, uow: WebhookUnitOfWork) -> None:
    """Deactivate; idempotent, so a retried DELETE succeeds. Undelivered deliveries become dead."""
    async with uow:
        await _visible_subscription(uow, subscription_id, principal)
        if await uow.webhooks.deactivate(subscription_id):
            log.info("webhook %s unsubscribed by %s", subscription_id, principal.subject)
        await uow.commit()


async def list_subscriptions(state: str | None, principal: Principal, uow: WebhookUnitOfWork) -> list[Subscription]:
    """What the caller manages: an operator every subscription (of ``state``), a state admin their states', a
    district admin their district's. Naming a state one manages nothing of is refused."""
    async with uow:
        await uow.without_transaction()  # one statement per state the caller manages
        if principal.has(Role.OPERATOR):
            return await uow.webhooks.list_subscriptions(state)
        found: list[Subscription] = []
        for each in [state] if state is not None else sorted(set(principal.states)):
            if may_administer(principal, each):
                found += await uow.webhooks.list_subscriptions(each)
            elif administers_district(principal, each, principal.district):
                found += await uow.webhooks.list_subscriptions(each, principal.district)
            else:
                _refuse_unless_manages(principal, each)
        return found


async def list_deliveries(
    subscription_id: UUID,
    status: DeliveryStatus | None,
    principal: Principal,
    uow: WebhookUnitOfWork,
    *,
    limit: int = 50,
    offset: int = 0,
) -> list[Delivery]:
    async with uow:
        await uow.without_transaction()  # a subscription is never deleted, only deactivated
        await _visible_subscription(uow, subscription_id, principal)
        return await uow.webhooks.list_deliveries(subscription_id, status, limit, offset)


async def replay(
    subscription_id: UUID, command: Replay, principal: Principal, uow: WebhookUnitOfWork, *, now: datetime | None = None
) -> int:
    """Re-queue delivered or dead deliveries (same body, same event id; a fresh signature when sent)."""
    if command.since is not None and command.since > (now or datetime.now(UTC)):
        raise Invalid("since is in the future", code="replay_since_in_future")
    async with uow:
        subscription = await _visible_subscription(uow, subscription_id, principal)
        if not subscription.active:
            raise Conflict(f"webhook {subscription_id} is unsubscribed; nothing can be sent to it",
                           code="webhook_inactive")
        requeued = await uow.webhooks.replay(subscription_id, command.since, command.delivery_ids, now)
        await uow.commit()
    log.info("webhook %s: %d deliveries re-queued by %s", subscription_id, requeued, principal.subject)
    return requeued


async def deliver_due(
    uow_factory: Callable[[], WebhookUnitOfWork],
    sender: Sender,
    *,
    now: datetime | None = None,
    batch: int = 50,
    schedule: WebhookSchedule | None = None,
    concurrency: int = 10,
    jitter: Callable[[], float] = random.random,
) -> int:
    """Send one batch of due deliveries and record each outcome; how many were attempted.

    ``now`` is the scheduling clock (tests move it); signatures always carry the real send time.
    One receiver failing, or the sender failing on one delivery, only reschedules that delivery.
    """
    now = now or datetime.now(UTC)
    schedule = schedule or WebhookSchedule()
    async with uow_factory() as uow:
        due = await uow.webhooks.claim_due(now, batch)
        if not due:
            return 0
        subscriptions = {
            subscription_id: await uow.webhooks.get_subscription(subscription_id)
            for subscription_id in {delivery.subscription_id for delivery in due}
        }
        slots = asyncio.Semaphore(concurrency)

        async def attempt(delivery: Delivery) -> Delivery:
            subscription = subscriptions[delivery.subscription_id]
            status_code: int | None = None
            error: str | None
            if subscription is None:
                error = "subscription not found"
            else:
                async with slots:
                    try:
                        status_code, error = await sender.send(
                            subscription.url, subscription.secret, delivery.body, delivery_headers(delivery)
                        )
                    except Exception as exc:  # a bug on one delivery must not lose the batch's outcomes
                        log.exception("webhook delivery %s: sender failed", delivery.delivery_id)
                        error = f"sender failed: {type(exc).__name__}"
            return record_attempt(
                delivery, now=now, status_code=status_code, error=error, schedule=schedule, jitter=jitter
            )

        outcomes = await asyncio.gather(*(attempt(delivery) for delivery in due))
        # Saved one after another: the session is not safe for concurrent use, only the sends are.
        for outcome in outcomes:
            await uow.webhooks.save(outcome)
            if outcome.status is DeliveryStatus.DEAD:
                log.warning("webhook delivery %s to subscription %s is dead after %d attempts: %s",
                            outcome.delivery_id, outcome.subscription_id, outcome.attempts, outcome.last_error)
        await uow.commit()
        # Counted once the outcomes are stored: a batch rolled back is sent, and counted, again.
        uow.metrics.count_attempts(
            (subscription.state, outcome)
            for outcome in outcomes
            if (subscription := subscriptions[outcome.subscription_id]) is not None
        )
    return len(due)


async def run_worker(
    uow_factory: Callable[[], WebhookUnitOfWork],
    sender: Sender,
    settings: WebhookSettings,
    stop_event: asyncio.Event | None = None,
    *,
    batch: int = 50,
) -> None:
    """Deliver until ``stop_event`` is set or the task is cancelled; never dies on a failed batch."""
    schedule = webhook_schedule(settings)
    stop = stop_event or asyncio.Event()
    while not stop.is_set():
        try:
            attempted = await deliver_due(uow_factory, sender, batch=batch, schedule=schedule)
        except Exception:
            # Typically the database is unreachable: a dead worker task would silently stop every
            # state's webhooks, so log, wait and try again.
            log.exception("webhook delivery batch failed; retrying")
            attempted = 0
        if attempted < batch:  # a full batch means more may be due already: go again without waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.webhook_poll_interval_seconds)
