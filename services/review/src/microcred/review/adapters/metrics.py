"""Reliability gauges on the service's Prometheus registry, refreshed whenever a double-scored pair completes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from microcred.review.domain.reliability import ReliabilityStats


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
