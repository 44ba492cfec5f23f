"""Licensure's domain metrics: counted on the feed records a transaction committed; gauges for every state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from prometheus_client import CollectorRegistry

from microcred.events import CreditPosted, StateFeedRecord
from microcred.licensure.adapters.metrics import LicensureMetrics
from microcred.licensure.adapters.orm import messaging
from microcred.licensure.service_layer import handlers
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.testing import CommitSession


def feed_record(record_type: str = "credit_posted", state: str = "TN", **extra: Any) -> StateFeedRecord:
    return StateFeedRecord.model_validate({
        "correlation_id": uuid4(), "states": (state,), "record_type": record_type, "state": state,
        "license_id": uuid4(), "license_number": "TN-1", "license_type": "Professional", "teacher_id": "t-42",
        "award_id": uuid4(), "credential_id": uuid4(), "credential_name": "Checking for Understanding",
        "entry_id": uuid4(), "amount": "6", "unit": "points", "earned_in_cycle": "6", "required_in_cycle": "60",
        "rule_set_id": "TN-2024", "rule_set_version": 1, "credential": {"id": "urn:uuid:x"}, "reason": "why",
    } | extra)


def unit_of_work(registry: CollectorRegistry, session: CommitSession) -> LicensureUnitOfWork:
    return LicensureUnitOfWork(lambda: session, messaging, "licensure",  # type: ignore[arg-type,return-value]
                               metrics=LicensureMetrics(registry))


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_committed_credit_record_counts_the_credit_and_the_feed_record_once() -> None:
    registry = CollectorRegistry()
    async with unit_of_work(registry, CommitSession()) as uow:
        uow.publish(feed_record("award"), feed_record("credit_posted"))
        uow.note_award_to_credit("TN", 4.0)
        await uow.commit()
    assert value(registry, "microcred_credits_total", state="TN", outcome="posted") == 1
    assert value(registry, "microcred_state_feed_records_total", state="TN", record_type="award") == 1
    assert value(registry, "microcred_state_feed_records_total", state="TN", record_type="credit_posted") == 1
    assert value(registry, "microcred_flow_award_to_credit_seconds_count", state="TN") == 1
    assert value(registry, "microcred_flow_award_to_credit_seconds_sum", state="TN") == 4.0


@pytest.mark.parametrize("record_type,outcome", [
    ("credit_pending", "pending_approval"), ("credit_rejected", "rejected"), ("credit_reversed", "reversed"),
])
async def test_each_credit_record_type_counts_as_its_outcome(record_type: str, outcome: str) -> None:
    registry = CollectorRegistry()
    async with unit_of_work(registry, CommitSession()) as uow:
        uow.publish(feed_record(record_type, state="UT"))
        await uow.commit()
    assert value(registry, "microcred_credits_total", state="UT", outcome=outcome) == 1


async def test_a_status_record_is_a_feed_record_but_no_credit_decision() -> None:
    registry = CollectorRegistry()
    async with unit_of_work(registry, CommitSession()) as uow:
        uow.publish(feed_record("credential_suspended", changed_at=datetime.now(UTC), changed_by="issuer-admin",
                                consequence="kept"))
        await uow.commit()
    assert value(registry, "microcred_state_feed_records_total", state="TN", record_type="credential_suspended") == 1
    assert registry.get_sample_value("microcred_credits_total", {"state": "TN", "outcome": "posted"}) is None


@pytest.mark.parametrize("refuse_commit", [False, True], ids=["left-without-commit", "commit-refused"])
async def test_a_transaction_that_did_not_commit_counts_and_observes_nothing(refuse_commit: bool) -> None:
    registry = CollectorRegistry()
    with pytest.raises((RuntimeError, ConnectionError)):
        async with unit_of_work(registry, CommitSession(refuse_commit)) as uow:
            uow.publish(feed_record("credit_posted"))
            uow.note_award_to_credit("TN", 4.0)
            if refuse_commit:
                await uow.commit()
            raise RuntimeError("the license lock timed out")
    assert value(registry, "microcred_credits_total", state="TN", outcome="posted") == 0
    assert value(registry, "microcred_flow_award_to_credit_seconds_count", state="TN") == 0


async def test_a_credit_settled_as_the_award_arrives_notes_the_time_since_its_issue(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await handlers.post_credits(awarded, uow)
    ((state, seconds),) = uow.award_to_credit
    (posted,) = [e for e in uow.published if isinstance(e, CreditPosted)]
    assert (state, seconds) == ("TN", (posted.occurred_at - awarded.issued_at).total_seconds())


async def test_the_refresh_sets_every_known_state_and_status_with_zero_where_none() -> None:
    class Rows:
        async def states(self) -> list[str]:
            return ["AR", "TN"]

        async def pending_by_state(self) -> dict[str, int]:
            return {"AR": 2}

        async def undelivered_by_state(self) -> dict[tuple[str, str], int]:
            return {("TN", "dead"): 1, ("TN", "failed"): 3}

    registry = CollectorRegistry()
    uow = unit_of_work(registry, CommitSession())
    def bind_rows(session: Any) -> None:
        for name in ("rule_sets", "claims", "webhooks"):
            setattr(uow, name, Rows())

    uow.bind_repositories = bind_rows  # type: ignore[method-assign]
    await handlers.refresh_gauges(uow)
    assert {s: value(registry, "microcred_credits_pending_approval", state=s) for s in ("AR", "TN")} == \
        {"AR": 2, "TN": 0}
    assert {(s, k): value(registry, "microcred_webhook_deliveries", state=s, status=k)
            for s in ("AR", "TN") for k in ("pending", "failed", "dead")} == {
        ("AR", "pending"): 0, ("AR", "failed"): 0, ("AR", "dead"): 0,
        ("TN", "pending"): 0, ("TN", "failed"): 3, ("TN", "dead"): 1}
