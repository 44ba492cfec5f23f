"""The canary's metrics, on its own registry (docs/operations/metrics.md, Canary).

A canary is observed in the histogram when credited and counted lost when its SLA passed first, never both:
the credit-latency SLO's bad events are lost canaries plus those credited after 900 s.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Seconds; 900 is the SLO's bound and must stay a bucket (the SLO rules read ``le="900"``).
ROUND_TRIP_BUCKETS = (1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600)


class CanaryMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.round_trip = Histogram(
            "microcred_canary_round_trip_seconds",
            "From a canary's submit to its credit posted in the canary state's license (credited canaries only)",
            buckets=ROUND_TRIP_BUCKETS, registry=self.registry,
        )
        self.lost = Counter(
            "microcred_canary_lost_total", "Canaries not credited within the SLA (not observed in the histogram)",
            registry=self.registry,
        )
        self.runs = Counter(
            "microcred_canary_runs_total", "Canaries finished, by outcome", ["outcome"], registry=self.registry,
        )
        for outcome in ("credited", "lost"):
            self.runs.labels(outcome=outcome)
        self.in_flight = Gauge(
            "microcred_canary_in_flight", "Canaries started and neither credited nor lost yet", registry=self.registry,
        )
        self.step_errors = Counter(
            "microcred_canary_step_errors_total",
            "Failed calls during a canary (retried until its SLA), by the step that failed",
            ["step"], registry=self.registry,
        )

    def credited(self, seconds: float) -> None:
        self.round_trip.observe(seconds)
        self.runs.labels(outcome="credited").inc()

    def lost_one(self) -> None:
        self.lost.inc()
        self.runs.labels(outcome="lost").inc()
