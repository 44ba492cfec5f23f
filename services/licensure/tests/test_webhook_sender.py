"""The webhook worker against a real HTTP receiver (uvicorn on 127.0.0.1) that checks signatures.

Deliveries live in an in-memory repository with the same interface as ``WebhookRepository`` (a test
below holds it to that), so ``deliver_due`` runs as in production minus PostgreSQL.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from microcred.events import StateFeedRecord
from microcred.licensure.adapters.metrics import LicensureMetrics
from microcred.licensure.adapters.webhook_repository import WebhookRepository
from microcred.licensure.adapters.webhook_sender import WebhookSender
from microcred.licensure.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    Subscription,
    WebhookSchedule,
    new_delivery,
    new_subscription,
    receives,
    requeue,
    signature_header,
    verify_signature,
)
from microcred.licensure.service_layer import webhooks
from microcred.licensure.service_layer.webhooks import deliver_due
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Forbidden, NotFound

SECRET = "receiver-secret-" + "k" * 32
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCHEDULE = WebhookSchedule(base_seconds=10, max_seconds=6 * 3600, give_up_after=timedelta(hours=72))


# --- the fake repository and unit of work -----------------------------------------------------------


class FakeWebhookRepository:
    """WebhookRepository in memory. Writes are staged and kept only when the unit of work commits."""

    def __init__(self) -> None:
        self.subscriptions: dict[UUID, Subscription] = {}
        self.deliveries: dict[UUID, Delivery] = {}
        self._staged_subscriptions: dict[UUID, Subscription] = {}
        self._staged_deliveries: dict[UUID, Delivery] = {}

    def _all_subscriptions(self) -> dict[UUID, Subscription]:
        return self.subscriptions | self._staged_subscriptions

    def _all_deliveries(self) -> dict[UUID, Delivery]:
        return self.deliveries | self._staged_deliveries

    def commit(self) -> None:
        self.subscriptions |= self._staged_subscriptions
        self.deliveries |= self._staged_deliveries
        self.rollback()

    def rollback(self) -> None:
        self._staged_subscriptions, self._staged_deliveries = {}, {}

    async def enqueue(self, record: StateFeedRecord, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        existing = {(d.subscription_id, d.event_id) for d in self._all_deliveries().values()}
        added = 0
        for subscription in self._all_subscriptions().values():
            if not receives(subscription, record):
                continue
            if (subscription.subscription_id, record.event_id) in existing:
                continue
            delivery = new_delivery(subscription.subscription_id, record, now)
            self._staged_deliveries[delivery.delivery_id] = delivery
            added += 1
        return added

    async def undelivered_by_state(self) -> dict[tuple[str, str], int]:
        subscriptions, counts = self._all_subscriptions(), dict[tuple[str, str], int]()
        for d in self._all_deliveries().values():
            if d.status is DeliveryStatus.DELIVERED:
                continue
            kind = "dead" if d.status is DeliveryStatus.DEAD else "failed" if d.attempts else "pending"
            key = (subscriptions[d.subscription_id].state, kind)
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def add_subscription(self, subscription: Subscription) -> None:
        self._staged_subscriptions[subscription.subscription_id] = subscription

    async def get_subscription(self, subscription_id: UUID) -> Subscription | None:
        return self._all_subscriptions().get(subscription_id)

    async def list_subscriptions(self, state: str | None, district: str | None = None) -> list[Subscription]:
        found = [s for s in self._all_subscriptions().values()
                 if state in (None, s.state) and district in (None, s.district)]
        return sorted(found, key=lambda s: (s.state, s.created_at))

    async def deactivate(self, subscription_id: UUID, now: datetime | None = None) -> bool:
        subscription = self._all_subscriptions().get(subscription_id)
        if subscription is None or not subscription.active:
            return False
        self._staged_subscriptions[subscription_id] = replace(subscription, active=False)
        for delivery in self._all_deliveries().values():
            if delivery.subscription_id == subscription_id and delivery.status is DeliveryStatus.PENDING:
                self._staged_deliveries[delivery.delivery_id] = replace(
                    delivery, status=DeliveryStatus.DEAD, last_error="subscription deactivated"
                )
        return True

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        subscriptions = self._all_subscriptions()
        due = [
            d for d in self._all_deliveries().values()
            if d.status is DeliveryStatus.PENDING and d.next_attempt_at <= now and subscriptions[d.subscription_id].active
        ]
        return sorted(due, key=lambda d: d.next_attempt_at)[:limit]

    async def save(self, delivery: Delivery) -> None:
        self._staged_deliveries[delivery.delivery_id] = delivery

    async def list_deliveries(
        self, subscription_id: UUID, status: DeliveryStatus | None, limit: int, offset: int
    ) -> list[Delivery]:
        found = [
            d for d in self._all_deliveries().values()
            if d.subscription_id == subscription_id and (status is None or d.status is status)
        ]
        return sorted(found, key=lambda d: d.created_at, reverse=True)[offset : offset + limit]

    async def replay(
        self,
        subscription_id: UUID,
        since: datetime | None,
        delivery_ids: Collection[UUID] | None,
        now: datetime | None = None,
    ) -> int:
        now = now or datetime.now(UTC)
        requeued = 0
        for delivery in self._all_deliveries().values():
            if delivery.subscription_id != subscription_id or delivery.status is DeliveryStatus.PENDING:
                continue
            if (since is not None and delivery.created_at < since) or (
                delivery_ids is not None and delivery.delivery_id not in delivery_ids
            ):
                continue
            self._staged_deliveries[delivery.delivery_id] = requeue(delivery, now)
            requeued += 1
        return requeued


class FakeUnitOfWork:
    def __init__(self, webhooks: FakeWebhookRepository, metrics: LicensureMetrics | None = None) -> None:
        self.webhooks = webhooks
        self.metrics = metrics or LicensureMetrics()
        self.commits = 0
        self.reading = False

    async def __aenter__(self) -> Self:
        self.reading = False
        return self

    async def without_transaction(self) -> None:
        """Nothing to leave out in memory; the real unit of work's refusal to commit after it is kept."""
        self.reading = True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.webhooks.rollback()

    async def commit(self) -> None:
        if self.reading:
            raise RuntimeError("a unit of work reading without a transaction cannot commit")
        self.webhooks.commit()
        self.commits += 1


def test_the_fake_repository_has_the_same_interface_as_webhook_repository() -> None:
    def interface(cls: type) -> dict[str, list[tuple[str, object, bool]]]:
        return {
            name: [
                (p.name, p.kind, p.default is inspect.Parameter.empty)
                for p in inspect.signature(member).parameters.values()
            ]
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in {"commit", "rollback"}
        }

    assert interface(FakeWebhookRepository) == interface(WebhookRepository)


# --- a real receiver ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: httpx.Headers
    verified: bool


class Receiver:
    """A state agency's endpoint: verifies the signature (400 if bad), then answers ``status``."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.status = 200
        self.received: list[Received] = []
        self.app = Starlette(routes=[Route("/hooks", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        verified = verify_signature(
            self.secret, request.headers.get("x-microcred-signature"), body, 300, time.time()
        )
        self.received.append(Received(body, httpx.Headers(dict(request.headers)), verified))
        return Response(status_code=self.status if verified else 400)


def reserved_port() -> socket.socket:
    """A bound socket that is not listening yet: connecting to it is refused until a server starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"


@asynccontextmanager
async def serving(receiver: Receiver, sock: socket.socket) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(receiver.app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def record(state: str = "TN") -> StateFeedRecord:
    return StateFeedRecord(
        correlation_id=uuid4(), states=(state,), record_type="credit_posted", state=state, license_id=uuid4(),
        license_number="TN-123", license_type="Professional", teacher_id="teacher-42", award_id=uuid4(),
        credential_id=uuid4(), credential_name="Checking for Understanding", entry_id=uuid4(),
        amount=Decimal("6"), unit="points", earned_in_cycle=Decimal("12"), required_in_cycle=Decimal("60"),
        rule_set_id="TN-2024", rule_set_version=1, credential={"id": "urn:uuid:x", "proof": {"type": "x"}},
    )


@dataclass
class World:
    repository: FakeWebhookRepository
    sender: WebhookSender
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.metrics = LicensureMetrics(self.registry)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.repository, self.metrics)

    async def subscribe(self, url: str, state: str = "TN", secret: str = SECRET,
                        district: str | None = None) -> Subscription:
        subscription = new_subscription(
            state=state, url=url, secret=secret, created_by="admin-tn", now=NOW, allow_http=True, district=district
        )
        async with self.uow() as uow:
            await uow.webhooks.add_subscription(subscription)
            await uow.commit()
        return subscription

    async def enqueue(self, feed_record: StateFeedRecord) -> int:
        async with self.uow() as uow:
            added = await uow.webhooks.enqueue(feed_record, NOW)
            await uow.commit()
        return added

    async def deliver(self, now: datetime) -> int:
        return await deliver_due(self.uow, self.sender, now=now, schedule=SCHEDULE, jitter=lambda: 0.5)

    def only_delivery(self) -> Delivery:
        (delivery,) = self.repository.deliveries.values()
        return delivery


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with WebhookSender() as sender:
        yield World(FakeWebhookRepository(), sender)


# --- behaviour --------------------------------------------------------------------------------------


async def test_a_due_delivery_reaches_the_receiver_signed_and_is_marked_delivered(world: World) -> None:
    receiver, sock = Receiver(), reserved_port()
    async with serving(receiver, sock):
        await world.subscribe(url_of(sock))
        feed_record = record()
        assert await world.enqueue(feed_record) == 1
        assert await world.deliver(NOW) == 1

    (received,) = receiver.received
    assert received.verified
    assert received.body == feed_record.model_dump_json().encode()
    assert received.headers["x-microcred-event-id"] == str(feed_record.event_id)
    assert received.headers["x-microcred-delivery-id"] == str(world.only_delivery().delivery_id)
    assert received.headers["x-microcred-attempt"] == "1"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == "microcred-webhooks/1"
    delivery = world.only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert await world.deliver(NOW + timedelta(days=1)) == 0, "a delivered record is not sent again"


async def test_enqueueing_the_same_record_twice_delivers_it_once(world: World) -> None:
    await world.subscribe("http://127.0.0.1:9/hooks")
    feed_record = record()
    assert await world.enqueue(feed_record) == 1
    assert await world.enqueue(feed_record) == 0
    assert len(world.repository.deliveries) == 1


async def test_a_record_goes_only_to_its_own_states_subscriptions(world: World) -> None:
    await world.subscribe("http://127.0.0.1:9/tn", state="TN")
    await world.subscribe("http://127.0.0.1:9/ut", state="UT")
    assert await world.enqueue(record("UT")) == 1
    assert await world.enqueue(record("AR")) == 0


async def test_a_receiver_answering_503_is_retried_per_schedule_and_then_gets_the_same_signed_bytes(
    world: World,
) -> None:
    receiver, sock = Receiver(), reserved_port()
    receiver.status = 503
    async with serving(receiver, sock):
        await world.subscribe(url_of(sock))
        await world.enqueue(record())
        await world.deliver(NOW)

        failed = world.only_delivery()
        assert (failed.status, failed.attempts, failed.last_status_code) == (DeliveryStatus.PENDING, 1, 503)
        assert failed.next_attempt_at == NOW + SCHEDULE.delay(1, 0.5)
        assert await world.deliver(failed.next_attempt_at - timedelta(seconds=1)) == 0, "not due yet"

        receiver.status = 200
        assert await world.deliver(failed.next_attempt_at) == 1

    first, second = receiver.received
    assert first.verified and second.verified
    assert first.body == second.body
    assert [r.headers["x-microcred-attempt"] for r in receiver.received] == ["1", "2"]
    assert first.headers["x-microcred-event-id"] == second.headers["x-microcred-event-id"]
    delivered = world.only_delivery()
    assert (delivered.status, delivered.attempts, delivered.last_status_code) == (DeliveryStatus.DELIVERED, 2, 200)


async def test_a_receiver_that_is_down_is_retried_and_receives_the_delivery_once_it_is_back(world: World) -> None:
    receiver, sock = Receiver(), reserved_port()
    await world.subscribe(url_of(sock))
    feed_record = record()
    await world.enqueue(feed_record)

    assert await world.deliver(NOW) == 1
    down = world.only_delivery()
    assert down.status is DeliveryStatus.PENDING and down.last_status_code is None
    assert down.last_error is not None and "ConnectError" in down.last_error
    assert SECRET not in down.last_error

    async with serving(receiver, sock):
        assert await world.deliver(down.next_attempt_at) == 1

    (received,) = receiver.received
    assert received.verified and received.body == feed_record.model_dump_json().encode()
    assert received.headers["x-microcred-attempt"] == "2"
    assert world.only_delivery().status is DeliveryStatus.DELIVERED


async def test_a_receiver_refuses_a_delivery_whose_body_was_tampered_with(world: World) -> None:
    receiver, sock = Receiver(), reserved_port()
    body = record().model_dump_json().encode()
    header = signature_header(SECRET, int(time.time()), body)
    async with serving(receiver, sock), httpx.AsyncClient() as client:
        genuine = await client.post(url_of(sock), content=body, headers={"X-Microcred-Signature": header})
        tampered = await client.post(
            url_of(sock), content=body.replace(b'"amount":"6"', b'"amount":"60"'),
            headers={"X-Microcred-Signature": header},
        )
    assert b'"amount":"6"' in body, "the tampering must change the body"
    assert (genuine.status_code, tampered.status_code) == (200, 400)
    assert [r.verified for r in receiver.received] == [True, False]


async def test_a_receiver_with_another_secret_refuses_and_the_delivery_is_retried(world: World) -> None:
    receiver, sock = Receiver(secret="another-secret-" + "z" * 32), reserved_port()
    async with serving(receiver, sock):
        await world.subscribe(url_of(sock))
        await world.enqueue(record())
        await world.deliver(NOW)
    assert [r.verified for r in receiver.received] == [False]
    assert world.only_delivery().status is DeliveryStatus.PENDING
    assert world.only_delivery().last_status_code == 400


async def test_one_broken_receiver_does_not_stop_the_others(world: World) -> None:
    receiver, up, down = Receiver(), reserved_port(), reserved_port()
    async with serving(receiver, up):
        healthy = await world.subscribe(url_of(up))
        broken = await world.subscribe(url_of(down))
        await world.subscribe("http://bad host/hooks")  # refused by httpx itself, still not fatal
        await world.enqueue(record())
        assert await world.deliver(NOW) == 3

    by_subscription = {d.subscription_id: d for d in world.repository.deliveries.values()}
    assert by_subscription[healthy.subscription_id].status is DeliveryStatus.DELIVERED
    assert by_subscription[broken.subscription_id].status is DeliveryStatus.PENDING
    assert len(receiver.received) == 1


async def test_each_attempt_is_counted_by_state_and_result_once_the_batch_is_stored(world: World) -> None:
    receiver, up, down = Receiver(), reserved_port(), reserved_port()
    async with serving(receiver, up):
        await world.subscribe(url_of(up))
        await world.subscribe(url_of(down))
        await world.enqueue(record())
        assert await world.deliver(NOW) == 2

    def attempts(result: str) -> float | None:
        return world.registry.get_sample_value("microcred_webhook_attempts_total", {"state": "TN", "result": result})

    assert (attempts("delivered"), attempts("failed")) == (1.0, 1.0)


async def test_attempts_of_a_batch_that_was_not_stored_are_not_counted(world: World) -> None:
    await world.subscribe("http://127.0.0.1:9/hooks")
    await world.enqueue(record())

    class Refused(FakeUnitOfWork):
        async def commit(self) -> None:
            raise ConnectionError("the database went away mid-commit")

    with pytest.raises(ConnectionError):
        await deliver_due(lambda: Refused(world.repository, world.metrics), world.sender, now=NOW,
                          schedule=SCHEDULE, jitter=lambda: 0.5)
    assert world.registry.get_sample_value("microcred_webhook_attempts_total", {"state": "TN", "result": "failed"}) \
        is None


async def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(world: World) -> None:
    elsewhere, target = Receiver(), reserved_port()
    redirecting, sock = Receiver(), reserved_port()
    redirecting.app = Starlette(routes=[Route(
        "/hooks", lambda _: Response(status_code=307, headers={"location": url_of(target)}), methods=["POST"]
    )])
    async with serving(redirecting, sock), serving(elsewhere, target):
        await world.subscribe(url_of(sock))
        await world.enqueue(record())
        await world.deliver(NOW)
    assert elsewhere.received == []
    delivery = world.only_delivery()
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.PENDING, 307)


async def test_a_receiver_down_for_the_whole_window_ends_dead_and_a_replay_delivers_it_later(world: World) -> None:
    receiver, sock = Receiver(), reserved_port()
    receiver.status = 500
    async with serving(receiver, sock):
        subscription = await world.subscribe(url_of(sock))
        await world.enqueue(record())
        now = NOW
        for _ in range(1000):  # bounded: a worker that never gives up must fail here, not hang
            if not await world.deliver(now):
                break
            now = world.only_delivery().next_attempt_at
        dead = world.only_delivery()
        assert dead.status is DeliveryStatus.DEAD and dead.last_error == "HTTP 500"
        assert dead.last_attempt_at == NOW + SCHEDULE.give_up_after
        assert dead.attempts == len(receiver.received) > 10
        assert await world.deliver(now + timedelta(days=30)) == 0, "a dead delivery is not retried"

        receiver.status = 200
        later = now + timedelta(days=30)
        async with world.uow() as uow:
            assert await uow.webhooks.replay(subscription.subscription_id, None, [dead.delivery_id], later) == 1
            await uow.commit()
        assert await world.deliver(later) == 1

    replayed = world.only_delivery()
    assert replayed.status is DeliveryStatus.DELIVERED and replayed.attempts == dead.attempts + 1
    assert receiver.received[-1].verified and receiver.received[-1].body == receiver.received[0].body


async def test_nothing_is_kept_when_the_unit_of_work_is_not_committed(world: World) -> None:
    await world.subscribe("http://127.0.0.1:9/hooks")
    async with world.uow() as uow:
        assert await uow.webhooks.enqueue(record(), NOW) == 1
    assert world.repository.deliveries == {}


# --- a district's own subscriptions (issue 21) ---------------------------------------------------------------


KNOX_ADMIN = Principal(subject="admin-knox", roles=frozenset({Role.DISTRICT_ADMIN}), states=("TN",),
                       district="Knox County")
TN_ADMIN = Principal(subject="admin-tn", roles=frozenset({Role.STATE_ADMIN}), states=("TN",))
HOOK = "https://knox.example.org/hooks"


def of_district(district: str | None, record_type: str = "credit_posted") -> StateFeedRecord:
    if record_type == "credit_posted":
        return record().model_copy(update={"district": district, "event_id": uuid4()})
    outcome = {"entry_id": uuid4(), "program_id": "TN-KNOX-MENTOR", "program_version": 1,
               "outcome_kind": "designation", "outcome_label": "Mentor Teacher", "district": district,
               "key": "complete", "year": 2026, "award_ids": [uuid4()], "reason": "the stack is complete"}
    return StateFeedRecord(correlation_id=uuid4(), states=("TN",), record_type=record_type, state="TN",
                           district=district, license_id=uuid4(), license_number="TN-1", license_type="Professional",
                           teacher_id="teacher-42", recognition=outcome)


async def test_a_district_subscription_is_queued_its_licenses_records_only_and_the_state_one_all(
    world: World,
) -> None:
    state = await world.subscribe("https://doe.example.gov/hooks")
    knox = await world.subscribe("https://knox.example.org/hooks", district="Knox County")
    shelby = await world.subscribe("https://shelby.example.org/hooks", district="Shelby County")
    records = [of_district("Knox County"), of_district(None), of_district("Shelby County", "recognition_granted"),
               of_district("Knox County", "recognition_reversed")]
    assert [await world.enqueue(r) for r in records] == [2, 1, 2, 2]
    sent = {s.subscription_id: sorted(d.event_id for d in world.repository.deliveries.values()
                                      if d.subscription_id == s.subscription_id) for s in (state, knox, shelby)}
    assert sent[state.subscription_id] == sorted(r.event_id for r in records)
    assert sent[knox.subscription_id] == sorted([records[0].event_id, records[3].event_id])
    assert sent[shelby.subscription_id] == [records[2].event_id]


async def test_a_district_admin_subscribes_their_own_district_whatever_they_name_but_another_one(
    world: World,
) -> None:
    uow = world.uow()
    own = await webhooks.subscribe(webhooks.Subscribe(state="TN", url=HOOK), KNOX_ADMIN, uow, allow_http=False)
    assert (own.state, own.district) == ("TN", "Knox County")
    named = webhooks.Subscribe(state="TN", district="Knox County", url=HOOK)
    assert (await webhooks.subscribe(named, KNOX_ADMIN, world.uow(), allow_http=False)).district == "Knox County"
    with pytest.raises(Forbidden) as refused:
        await webhooks.subscribe(webhooks.Subscribe(state="TN", district="Shelby County", url=HOOK), KNOX_ADMIN,
                                 world.uow(), allow_http=False)
    assert refused.value.code == "district_not_administered"
    with pytest.raises(Forbidden) as refused:
        await webhooks.subscribe(webhooks.Subscribe(state="UT", url=HOOK), KNOX_ADMIN, world.uow(), allow_http=False)
    assert refused.value.code == "state_not_administered"
    # The state's admin subscribes for any district of the state, or for the whole state.
    shelby = webhooks.Subscribe(state="TN", district="Shelby County", url=HOOK)
    assert (await webhooks.subscribe(shelby, TN_ADMIN, world.uow(), allow_http=False)).district == "Shelby County"
    assert (await webhooks.subscribe(webhooks.Subscribe(state="TN", url=HOOK), TN_ADMIN, world.uow(),
                                     allow_http=False)).district is None


async def test_a_district_admin_manages_their_districts_subscriptions_and_no_other_exists_for_them(
    world: World,
) -> None:
    receiver, sock = Receiver(), reserved_port()

    def subscribe(district: str | None) -> Any:
        return webhooks.subscribe(webhooks.Subscribe(state="TN", district=district, url=url_of(sock), secret=SECRET),
                                  TN_ADMIN, world.uow(), allow_http=True)

    knox, shelby, whole = await subscribe("Knox County"), await subscribe("Shelby County"), await subscribe(None)
    listed = await webhooks.list_subscriptions(None, KNOX_ADMIN, world.uow())
    assert [s.subscription_id for s in listed] == [knox.subscription_id]
    assert [s.subscription_id for s in await webhooks.list_subscriptions("TN", KNOX_ADMIN, world.uow())] == [
        knox.subscription_id]
    with pytest.raises(Forbidden):
        await webhooks.list_subscriptions("UT", KNOX_ADMIN, world.uow())
    assert len(await webhooks.list_subscriptions("TN", TN_ADMIN, world.uow())) == 3

    async with serving(receiver, sock):
        await world.enqueue(of_district("Knox County"))
        assert await world.deliver(NOW) == 2  # the district's subscription and the state's
    since = webhooks.Replay(since=NOW - timedelta(minutes=1))
    assert await webhooks.replay(knox.subscription_id, since, KNOX_ADMIN, world.uow(), now=NOW) == 1
    assert len(await webhooks.list_deliveries(knox.subscription_id, None, KNOX_ADMIN, world.uow())) == 1
    for other in (shelby, whole):  # another district's, or the state's: as if it did not exist
        with pytest.raises(NotFound):
            await webhooks.list_deliveries(other.subscription_id, None, KNOX_ADMIN, world.uow())
        with pytest.raises(NotFound):
            await webhooks.replay(other.subscription_id, since, KNOX_ADMIN, world.uow(), now=NOW)
        with pytest.raises(NotFound):
            await webhooks.unsubscribe(other.subscription_id, KNOX_ADMIN, world.uow())
    await webhooks.unsubscribe(knox.subscription_id, KNOX_ADMIN, world.uow())
    assert [s.active for s in await webhooks.list_subscriptions(None, KNOX_ADMIN, world.uow())] == [False]
    assert all(s.active for s in (await webhooks.list_subscriptions("TN", TN_ADMIN, world.uow()))
               if s.subscription_id != knox.subscription_id)
