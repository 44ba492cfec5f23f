"""Review's queue gauges and submit-to-decision time: observed on what committed, every series exported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from microcred.review.adapters.metrics import ReviewMetrics
from microcred.review.adapters.orm import messaging
from microcred.review.domain.model import Backlog, BusinessDays, add_business_days, business_day_offsets
from microcred.review.service_layer import handlers
from microcred.review.service_layer.unit_of_work import ReviewUnitOfWork
from microcred.runtime.testing import CommitSession


def unit_of_work(registry: CollectorRegistry, session: CommitSession) -> ReviewUnitOfWork:
    return ReviewUnitOfWork(lambda: session, messaging, "review",  # type: ignore[arg-type,return-value]
                            metrics=ReviewMetrics(registry))


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_a_committed_decision_is_timed_under_its_outcome() -> None:
    registry = CollectorRegistry()
    async with unit_of_work(registry, CommitSession()) as uow:
        uow.note_decision("passed", 3600.0)
        uow.note_decision("revise", 7200.0)
        await uow.commit()
    assert value(registry, "microcred_review_decision_seconds_count", outcome="passed") == 1
    assert value(registry, "microcred_review_decision_seconds_sum", outcome="passed") == 3600.0
    assert value(registry, "microcred_review_decision_seconds_sum", outcome="revision_requested") == 7200.0


@pytest.mark.parametrize("refuse_commit", [False, True], ids=["left-without-commit", "commit-refused"])
async def test_a_decision_that_did_not_commit_is_not_timed(refuse_commit: bool) -> None:
    registry = CollectorRegistry()
    with pytest.raises((RuntimeError, ConnectionError)):
        async with unit_of_work(registry, CommitSession(refuse_commit)) as uow:
            uow.note_decision("passed", 3600.0)
            if refuse_commit:
                await uow.commit()
            raise RuntimeError("the routing lock timed out")
    assert value(registry, "microcred_review_decision_seconds_count", outcome="passed") == 0


async def test_a_later_commit_in_a_reused_unit_of_work_does_not_time_an_abandoned_decision() -> None:
    registry = CollectorRegistry()
    uow = unit_of_work(registry, CommitSession())
    with pytest.raises(RuntimeError):
        async with uow:
            uow.note_decision("passed", 60.0)
            raise RuntimeError("refused")
    async with uow:
        await uow.commit()
    assert value(registry, "microcred_review_decision_seconds_count", outcome="passed") == 0


def test_both_outcomes_are_exported_before_any_decision() -> None:
    registry = CollectorRegistry()
    ReviewMetrics(registry)
    assert {outcome: value(registry, "microcred_review_decision_seconds_count", outcome=outcome)
            for outcome in ("passed", "revision_requested")} == {"passed": 0.0, "revision_requested": 0.0}


async def test_the_refresh_sets_open_waiting_and_overdue_from_one_read_of_the_backlog() -> None:
    seen: list[tuple[datetime, BusinessDays]] = []

    class Reviews:
        async def backlog(self, now: datetime, promise: BusinessDays) -> Backlog:
            seen.append((now, promise))
            return Backlog(assigned=7, queued=3, overdue=2)

    registry = CollectorRegistry()
    uow = unit_of_work(registry, CommitSession())
    uow.bind_repositories = lambda session: setattr(uow, "reviews", Reviews())  # type: ignore[method-assign]
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    await handlers.refresh_gauges(uow, BusinessDays(14), now)
    assert seen == [(now, BusinessDays(14))]
    assert (value(registry, "microcred_reviews_open"), value(registry, "microcred_reviews_waiting_for_reviewer"),
            value(registry, "microcred_reviews_overdue")) == (7, 3, 2)


@pytest.mark.parametrize("days", [1, 5, 14, 23])
def test_the_weekday_offsets_the_overdue_query_applies_give_the_same_deadline_as_the_calendar(days: int) -> None:
    offsets = business_day_offsets(days)
    start = datetime(2026, 11, 30, 17, 45, tzinfo=UTC)  # a Monday
    for hours in range(0, 14 * 24, 5):  # two weeks of starts, every weekday and weekend at many times of day
        submitted = start + timedelta(hours=hours)
        assert submitted + timedelta(days=offsets[submitted.weekday()]) == add_business_days(submitted, days)


def test_fourteen_business_days_from_a_monday_are_eighteen_calendar_days_and_from_a_saturday_nineteen() -> None:
    offsets = business_day_offsets(14)
    assert (offsets[0], offsets[4], offsets[5], offsets[6]) == (18, 20, 19, 18)
