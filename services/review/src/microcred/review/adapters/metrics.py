"""Review's metrics on the service's Prometheus registry.

Reliability gauges are refreshed whenever a double-scored pair completes. The queue gauges are read from
the database by a background loop (never on scrape); the submit-to-decision time is observed only once the
transaction that published the decision committed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram

from microcred.review.domain.model import Backlog, Decision
from microcred.review.domain.reliability import ReliabilityStats

#: The decision as the catalog's ``outcome`` label names it (the event a teacher's submission gets).
DECISION_OUTCOMES: dict[Decision, str] = {"passed": "passed", "revise": "revision_requested"}


class ReliabilityGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.kappa = Gauge(
            "microcred_review_reviewer_kappa",
            "Quadratic-weighted Cohen's kappa of the reviewer over double-scored work",
            ["reviewer"],
            registry=registry,
        )
        self.agreement = Gauge(
            "microcred_review_reviewer_agreement",
            "Exact agreement of the reviewer with the other reviewer over double-scored work",
            ["reviewer"],
            registry=registry,
        )
        self.flagged = Gauge(
            "microcred_review_flagged_reviewers",
            "Reviewers flagged for recalibration (below the kappa or agreement threshold)",
            registry=registry,
        )

    def observe(self, reviewer_id: str, stats: ReliabilityStats) -> None:
        # A reviewer without pairs has no figure yet; leaving the series absent says so honestly.
        if stats.kappa is not None:
            self.kappa.labels(reviewer=reviewer_id).set(stats.kappa)
        if stats.exact_agreement is not None:
            self.agreement.labels(reviewer=reviewer_id).set(stats.exact_agreement)

    def flagged_reviewers(self, count: int) -> None:
        self.flagged.set(count)


class ReviewMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry when none is given keeps tests and benchmarks from colliding on names.
        registry = registry or CollectorRegistry()
        self.open = Gauge(
            "microcred_reviews_open", "Review seats assigned to a reviewer and not yet scored, as last read",
            registry=registry,
        )
        self.waiting = Gauge(
            "microcred_reviews_waiting_for_reviewer", "Review seats waiting in the queue for a reviewer, as last read",
            registry=registry,
        )
        self.overdue = Gauge(
            "microcred_reviews_overdue",
            "Attempts past the business-day decision promise (from the submit) without a decision, as last read",
            registry=registry,
        )
        # The promise is 14 business days (about 20 calendar days): buckets run from minutes to five weeks.
        day = 86_400.0
        self.decision_seconds = Histogram(
            "microcred_review_decision_seconds",
            "From the teacher's submit of an attempt to its decision (passed, or revision requested)",
            ["outcome"],
            buckets=(600, 3600, 4 * 3600, day, 2 * day, 3 * day, 5 * day, 7 * day, 10 * day, 14 * day,
                     18 * day, 21 * day, 28 * day, 35 * day),
            registry=registry,
        )
        for outcome in DECISION_OUTCOMES.values():
            self.decision_seconds.labels(outcome=outcome)

    def observe_decision(self, decision: Decision, seconds: float) -> None:
        self.decision_seconds.labels(outcome=DECISION_OUTCOMES[decision]).observe(seconds)

    def set_backlog(self, backlog: Backlog) -> None:
        self.open.set(backlog.assigned)
        self.waiting.set(backlog.queued)
        self.overdue.set(backlog.overdue)
