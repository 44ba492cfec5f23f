"""Signed webhooks for state agencies that do not run Kafka consumers: the rules, no I/O.

Delivery guarantees. A delivery row is written in the same unit of work as the ledger change it reports
(outbox style), so a state is told about a change if and only if the change committed. Delivery is at
least once: a crash between a receiver's 2xx and our commit sends the record again, so receivers dedupe
on ``X-Microcred-Event-Id`` (the record's ``event_id``, the same on every attempt and every replay).

Signature. ``X-Microcred-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``.
The timestamp is inside the MAC, so a receiver that refuses timestamps outside a few minutes also
refuses a captured request replayed later. Several ``v1=`` entries may appear (a receiver rotating its
secret); one match is enough.

Retries. After a failed attempt the next one waits an exponentially growing delay with jitter, capped;
once ``give_up_after`` has passed since the first attempt of the current round the delivery is ``dead``
(the dead-letter record, kept for inspection and replay). The window counts from the first attempt
rather than from enqueueing so an outage of our own worker does not eat the receiver's retry window.
A replay starts a new round: a fresh window and short delays again, while ``attempts`` keeps counting.

Scope. A subscription receives its state's records, every one of them; a district's subscription (``district``
set) only those of its district's licenses (the record's ``district``), of every kind: awards, credits,
status changes and recognitions. A record of a license with no district reaches the state's subscriptions
alone. :func:`receives` is the rule; the repository's query applies the same one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from microcred.events import StateFeedRecord
from microcred.runtime.errors import Invalid

SIGNATURE_HEADER = "X-Microcred-Signature"
EVENT_ID_HEADER = "X-Microcred-Event-Id"
DELIVERY_ID_HEADER = "X-Microcred-Delivery-Id"
ATTEMPT_HEADER = "X-Microcred-Attempt"
USER_AGENT = "microcred-webhooks/1"

MIN_SECRET_LENGTH = 32
MAX_SECRET_LENGTH = 256
MAX_URL_LENGTH = 2048
MAX_ERROR_LENGTH = 500
DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class WebhookSchedule:
    """When to retry. Settings: ``webhook_retry_base_seconds``, ``webhook_retry_max_seconds``,
    ``webhook_give_up_after_hours``."""

    base_seconds: float = 10.0
    max_seconds: float = 6 * 3600.0
    give_up_after: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        if not 0 < self.base_seconds <= self.max_seconds:
            raise ValueError("webhook retry delays need 0 < base_seconds <= max_seconds")
        if self.give_up_after <= timedelta(0):
            raise ValueError("webhook give_up_after must be positive")

    def delay(self, failures: int, jitter: float) -> timedelta:
        """The wait after the ``failures``-th failure in a row (1-based); ``jitter`` is uniform in [0, 1).

        "Equal jitter": half the capped exponential delay is fixed and half random. The fixed half keeps
        a floor so a down receiver is not hammered; the random half spreads the retries of the many
        deliveries that failed together when a receiver went down, so they do not return as one burst.
        """
        exponent = min(max(failures - 1, 0), 62)  # 2**62 already dwarfs any cap; avoids float overflow
        ceiling = min(self.max_seconds, self.base_seconds * 2.0**exponent)
        return timedelta(seconds=ceiling / 2 + ceiling / 2 * jitter)


@dataclass(frozen=True)
class Subscription:
    subscription_id: UUID
    state: str
    url: str
    # A shared HMAC key, so it is stored as given (the sender must use it); repr=False keeps it out of
    # logs and tracebacks. It is shown once, in the response that creates the subscription.
    secret: str = field(repr=False)
    active: bool
    created_by: str
    created_at: datetime
    district: str | None = None  # a district's subscription: only its licenses' records


def receives(subscription: Subscription, record: StateFeedRecord) -> bool:
    """Whether the record is queued for the subscription (see Scope above)."""
    return (subscription.active and subscription.state == record.state
            and subscription.district in (None, record.district))


@dataclass(frozen=True)
class Delivery:
    """One record on its way to one subscription. ``body`` is the exact bytes signed and sent."""

    delivery_id: UUID
    subscription_id: UUID
    event_id: UUID
    record_type: str
    body: bytes
    status: DeliveryStatus
    attempts: int  # every attempt ever made, replays included
    round_attempts: int  # attempts since the last (re)queue: drives the backoff
    next_attempt_at: datetime
    created_at: datetime
    first_attempt_at: datetime | None = None  # of the current round: starts the give-up window
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def generate_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


def validate_url(url: str, *, allow_http: bool) -> str:
    """Refuse a URL the sender must not call. https only outside local mode.

    Outside local mode an IP-literal receiver on a private, loopback or link-local address is refused
    too: a subscription is a request our cluster makes, and those addresses reach our own internals
    (including cloud metadata). Host names that resolve to such addresses are the egress network
    policy's job; checking DNS here would be defeated by rebinding anyway.
    """
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"a webhook URL has at most {MAX_URL_LENGTH} characters", code="webhook_url_invalid")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise Invalid(f"not a URL: {exc}", code="webhook_url_invalid") from None
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed:
        raise Invalid(f"a webhook URL must use {' or '.join(allowed)}", code="webhook_url_scheme")
    if not parts.hostname:
        raise Invalid("a webhook URL needs a host", code="webhook_url_invalid")
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL end up in logs and in the deliveries view; the signature authenticates us.
        raise Invalid("a webhook URL must not carry credentials", code="webhook_url_credentials")
    if parts.fragment:
        raise Invalid("a webhook URL must not have a fragment", code="webhook_url_invalid")
    if not allow_http and _is_internal_host(parts.hostname):
        raise Invalid("a webhook URL must not point at an internal address", code="webhook_url_internal")
    return url


def _is_internal_host(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def new_subscription(
    *, state: str, url: str, secret: str | None, created_by: str, now: datetime, allow_http: bool,
    district: str | None = None,
) -> Subscription:
    if len(state) != 2 or not state.isalpha() or not state.isupper():
        raise Invalid(f"not a two-letter state code: {state!r}", code="invalid_state")
    if secret is None:
        secret = generate_secret()
    elif not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise Invalid(
            f"a webhook secret has {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters; "
            "omit it to have one generated",
            code="webhook_secret_length",
        )
    return Subscription(
        subscription_id=uuid4(),
        state=state,
        url=validate_url(url, allow_http=allow_http),
        secret=secret,
        active=True,
        created_by=created_by,
        created_at=now,
        district=district,
    )


def new_delivery(subscription_id: UUID, record: StateFeedRecord, now: datetime) -> Delivery:
    return Delivery(
        delivery_id=uuid4(),
        subscription_id=subscription_id,
        event_id=record.event_id,
        record_type=record.record_type,
        body=record.model_dump_json().encode(),
        status=DeliveryStatus.PENDING,
        attempts=0,
        round_attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def record_attempt(
    delivery: Delivery,
    *,
    now: datetime,
    status_code: int | None,
    error: str | None,
    schedule: WebhookSchedule,
    jitter: Callable[[], float],
) -> Delivery:
    """The delivery after one attempt: delivered on a 2xx, else rescheduled, or dead past the window."""
    first_attempt_at = delivery.first_attempt_at or now
    attempted = replace(
        delivery,
        attempts=delivery.attempts + 1,
        round_attempts=delivery.round_attempts + 1,
        first_attempt_at=first_attempt_at,
        last_attempt_at=now,
        last_status_code=status_code,
    )
    if is_success(status_code):
        return replace(attempted, status=DeliveryStatus.DELIVERED, delivered_at=now, last_error=None)
    reason = (error or f"HTTP {status_code}")[:MAX_ERROR_LENGTH]
    deadline = first_attempt_at + schedule.give_up_after
    if now >= deadline:
        return replace(attempted, status=DeliveryStatus.DEAD, last_error=reason)
    # The last retry lands on the deadline rather than past it, so a receiver that comes back late in
    # the window still gets one more chance before the delivery is given up.
    retry_at = min(now + schedule.delay(attempted.round_attempts, jitter()), deadline)
    return replace(attempted, next_attempt_at=retry_at, last_error=reason)


def requeue(delivery: Delivery, now: datetime) -> Delivery:
    """A replay: due now, in a new round (fresh window and backoff); the attempt count is history."""
    return replace(
        delivery,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        round_attempts=0,
        first_attempt_at=None,
        delivered_at=None,
    )


def delivery_headers(delivery: Delivery) -> dict[str, str]:
    """The per-delivery headers; the sender adds the signature at send time."""
    return {
        EVENT_ID_HEADER: str(delivery.event_id),
        DELIVERY_ID_HEADER: str(delivery.delivery_id),
        ATTEMPT_HEADER: str(delivery.attempts + 1),
    }


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    tolerance_seconds: float,
    now: float,
) -> bool:
    """What a receiver runs: the header is well formed, fresh (``t`` within ``tolerance_seconds`` of
    ``now``, both unix seconds, either side, e.g. DEFAULT_SIGNATURE_TOLERANCE_SECONDS) and one ``v1``
    matches the body."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            if timestamp is not None or not value.isdigit():
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _mac(secret, timestamp, body)
    # Compare every candidate, constant time each, so timing tells nothing about which one came close.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return matched
