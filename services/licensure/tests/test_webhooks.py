"""Webhook rules without I/O: the signature a receiver checks, the retry schedule, subscription validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from microcred.licensure.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    Subscription,
    WebhookSchedule,
    new_subscription,
    record_attempt,
    requeue,
    signature_header,
    verify_signature,
)
from microcred.runtime.errors import Invalid

SECRET = "s" * 40
BODY = b'{"event_id":"1","record_type":"credit_posted","amount":"6"}'
T = 1_760_000_000
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SCHEDULE = WebhookSchedule(base_seconds=10, max_seconds=6 * 3600, give_up_after=timedelta(hours=72))


def pending(**overrides: object) -> Delivery:
    fields: dict[str, object] = {
        "delivery_id": uuid4(), "subscription_id": uuid4(), "event_id": uuid4(), "record_type": "award",
        "body": BODY, "status": DeliveryStatus.PENDING, "attempts": 0, "round_attempts": 0,
        "next_attempt_at": NOW, "created_at": NOW,
    }
    return Delivery(**(fields | overrides))  # type: ignore[arg-type]


def fail_until_given_up(delivery: Delivery, jitter: float = 0.5) -> tuple[Delivery, list[datetime]]:
    attempts_at = []
    for _ in range(1000):  # bounded: a schedule that never gives up must fail here, not hang
        if delivery.status is not DeliveryStatus.PENDING:
            return delivery, attempts_at
        attempts_at.append(delivery.next_attempt_at)
        delivery = fail(delivery, delivery.next_attempt_at, jitter)
    raise AssertionError("the delivery was never given up")


def fail(delivery: Delivery, at: datetime, jitter: float = 0.5) -> Delivery:
    return record_attempt(delivery, now=at, status_code=503, error=None, schedule=SCHEDULE, jitter=lambda: jitter)


# --- signature ---------------------------------------------------------------------------------------


def test_a_signature_has_the_timestamp_and_a_hex_hmac_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1760000000." + BODY, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, T, BODY) == f"t={T},v1={expected}"


def test_a_receiver_accepts_the_body_it_was_signed_for() -> None:
    assert verify_signature(SECRET, signature_header(SECRET, T, BODY), BODY, 300, T + 5)


def test_a_receiver_refuses_a_tampered_body() -> None:
    header = signature_header(SECRET, T, BODY)
    assert not verify_signature(SECRET, header, BODY.replace(b'"6"', b'"60"'), 300, T)


def test_a_receiver_refuses_a_signature_made_with_another_secret() -> None:
    assert not verify_signature(SECRET, signature_header("x" * 40, T, BODY), BODY, 300, T)


def test_a_receiver_refuses_a_capture_replayed_after_the_tolerance() -> None:
    header = signature_header(SECRET, T, BODY)
    assert verify_signature(SECRET, header, BODY, 300, T + 300)
    assert not verify_signature(SECRET, header, BODY, 300, T + 301)
    assert not verify_signature(SECRET, header, BODY, 300, T - 301)


def test_a_receiver_refuses_a_timestamp_moved_to_look_fresh() -> None:
    mac = signature_header(SECRET, T, BODY).split(",v1=")[1]
    assert not verify_signature(SECRET, f"t={T + 3600},v1={mac}", BODY, 300, T + 3600)


@pytest.mark.parametrize(
    "header", ["", "v1=abc", f"t={T}", f"t=abc,v1={'0' * 64}", f"t={T},t={T},v1={'0' * 64}", "garbage"]
)
def test_a_receiver_refuses_a_malformed_signature_header(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, 300, T)


def test_a_receiver_rotating_secrets_accepts_any_matching_v1() -> None:
    old = signature_header("o" * 40, T, BODY).split(",v1=")[1]
    new = signature_header(SECRET, T, BODY).split(",v1=")[1]
    assert verify_signature(SECRET, f"t={T},v1={old},v1={new}", BODY, 300, T)
    assert verify_signature(SECRET, f"t={T},v1={new},v1={old}", BODY, 300, T)


# --- schedule ----------------------------------------------------------------------------------------


def test_retry_delays_double_from_the_base_up_to_the_cap() -> None:
    ceilings = [SCHEDULE.delay(n, jitter=1.0).total_seconds() for n in range(1, 15)]
    assert ceilings[:4] == [10, 20, 40, 80]
    assert ceilings == sorted(ceilings)
    assert ceilings[-1] == 6 * 3600


def test_jitter_keeps_a_retry_between_half_and_all_of_its_ceiling() -> None:
    assert SCHEDULE.delay(3, jitter=0.0) == timedelta(seconds=20)
    assert SCHEDULE.delay(3, jitter=0.999) < timedelta(seconds=40)
    assert SCHEDULE.delay(10_000, jitter=0.0) == timedelta(hours=3)


def test_a_failed_attempt_is_rescheduled_after_the_backoff() -> None:
    after = fail(pending(), NOW, jitter=0.0)
    assert after.status is DeliveryStatus.PENDING
    assert (after.attempts, after.round_attempts, after.last_status_code, after.last_error) == (1, 1, 503, "HTTP 503")
    assert after.next_attempt_at == NOW + timedelta(seconds=5)
    assert after.first_attempt_at == NOW


def test_a_2xx_marks_the_delivery_delivered() -> None:
    failed = fail(pending(), NOW)
    done = record_attempt(failed, now=NOW + timedelta(minutes=1), status_code=204, error=None,
                          schedule=SCHEDULE, jitter=lambda: 0.5)
    assert done.status is DeliveryStatus.DELIVERED and done.delivered_at == NOW + timedelta(minutes=1)
    assert done.attempts == 2 and done.last_error is None


def test_retries_go_on_over_days_then_the_delivery_is_dead_once_the_window_has_passed() -> None:
    delivery, attempts_at = fail_until_given_up(pending(), jitter=0.999)
    assert delivery.status is DeliveryStatus.DEAD
    assert attempts_at[-1] == NOW + timedelta(hours=72), "the last try lands on the deadline"
    assert attempts_at[-2] - attempts_at[-3] <= timedelta(hours=6)
    assert timedelta(days=2) < attempts_at[-2] - NOW < timedelta(hours=72)
    assert delivery.attempts == len(attempts_at)


def test_the_give_up_window_counts_from_the_first_attempt_not_from_enqueueing() -> None:
    # Our worker was down for four days: the receiver still gets its full retry window.
    late = NOW + timedelta(days=4)
    after = fail(pending(next_attempt_at=late), late)
    assert after.status is DeliveryStatus.PENDING and after.first_attempt_at == late


def test_a_replay_starts_a_new_round_but_keeps_the_attempt_count() -> None:
    delivery, _ = fail_until_given_up(pending())
    later = NOW + timedelta(days=10)
    again = requeue(delivery, later)
    assert (again.status, again.next_attempt_at, again.round_attempts, again.first_attempt_at) == (
        DeliveryStatus.PENDING, later, 0, None
    )
    assert again.attempts == delivery.attempts
    retried = fail(again, later, jitter=0.0)
    assert retried.next_attempt_at == later + timedelta(seconds=5), "backoff starts short again"


def test_a_schedule_with_a_cap_below_its_base_is_refused() -> None:
    with pytest.raises(ValueError):
        WebhookSchedule(base_seconds=10, max_seconds=5)


# --- subscriptions ------------------------------------------------------------------------------------


def subscribe(url: str = "https://doe.example.gov/hooks", secret: str | None = None, allow_http: bool = False,
              state: str = "TN") -> Subscription:
    return new_subscription(state=state, url=url, secret=secret, created_by="admin-tn", now=NOW,
                            allow_http=allow_http)


def test_a_subscription_without_a_secret_gets_a_generated_one_of_at_least_32_characters() -> None:
    first, second = subscribe(), subscribe()
    assert len(first.secret) >= 32 and first.secret != second.secret


def test_a_subscription_never_shows_its_secret_in_its_repr() -> None:
    assert SECRET not in repr(subscribe(secret=SECRET))


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        subscribe(secret="s" * 31)
    assert refused.value.code == "webhook_secret_length"


def test_plain_http_is_refused_outside_local_mode_and_allowed_in_it() -> None:
    with pytest.raises(Invalid) as refused:
        subscribe(url="http://doe.example.gov/hooks")
    assert refused.value.code == "webhook_url_scheme"
    assert subscribe(url="http://127.0.0.1:9000/hooks", allow_http=True)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://doe.example.gov/x", "webhook_url_scheme"),
        ("https:///nohost", "webhook_url_invalid"),
        ("https://user:pw@doe.example.gov/x", "webhook_url_credentials"),
        ("https://doe.example.gov:99999/x", "webhook_url_invalid"),
        ("https://169.254.169.254/latest/meta-data", "webhook_url_internal"),
        ("https://10.0.0.7/hooks", "webhook_url_internal"),
        ("https://localhost/hooks", "webhook_url_internal"),
        ("https://[::1]/hooks", "webhook_url_internal"),
    ],
)
def test_a_url_the_sender_must_not_call_is_refused(url: str, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        subscribe(url=url)
    assert refused.value.code == code


def test_a_state_that_is_not_two_capital_letters_is_refused() -> None:
    with pytest.raises(Invalid):
        subscribe(state="tn")
