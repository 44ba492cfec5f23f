"""Licensure's domain metrics on the service's Prometheus registry.

Credit and feed counters move on the state feed records a transaction committed: every credit decision
(posted, pending, rejected, reversed) is announced to its state as exactly one such record, whatever the
code path (an award arriving, a license registered later, a district deciding, a revocation, the expiry
sweep), and a rolled-back transaction wrote none. Gauges are read from the database by a background loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from microcred.events import IntegrationEvent, StateFeedRecord
from microcred.licensure.domain.webhooks import Delivery, DeliveryStatus

#: Feed record type -> credit outcome (the catalog's ``outcome`` label).
CREDIT_OUTCOMES = {
    "credit_posted": "posted",
    "credit_pending": "pending_approval",
    "credit_rejected": "rejected",
    "credit_reversed": "reversed",
}
WEBHOOK_STATUSES = ("pending", "failed", "dead")


class LicensureMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry when none is given keeps tests and benchmarks from colliding on names.
        registry = registry or CollectorRegistry()
        self.credits = Counter(
            "microcred_credits", "Credit decisions announced to each state, by outcome", ["state", "outcome"],
            registry=registry,
        )
        self.feed_records = Counter(
            "microcred_state_feed_records", "Records written to each state's feed", ["state", "record_type"],
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "microcred_webhook_attempts", "Webhook delivery attempts, by result", ["state", "result"],
            registry=registry,
        )
        self.pending_approval = Gauge(
            "microcred_credits_pending_approval", "Credits waiting for a district's decision, as last read",
            ["state"], registry=registry,
        )
        self.webhook_deliveries = Gauge(
            "microcred_webhook_deliveries", "Webhook deliveries not delivered (pending, failed and retrying, dead)",
            ["state", "status"], registry=registry,
        )
        self.award_to_credit = Histogram(
            "microcred_flow_award_to_credit_seconds",
            "From the award's issue (award.awarded's issued_at) to its credit posted, for credits settled when "
            "the award arrived",
            ["state"],
            buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600),
            registry=registry,
        )

    def count_committed(self, events: Iterable[IntegrationEvent]) -> None:
        for event in events:
            if isinstance(event, StateFeedRecord):
                self.feed_records.labels(state=event.state, record_type=event.record_type).inc()
                outcome = CREDIT_OUTCOMES.get(event.record_type)
                if outcome is not None:
                    self.credits.labels(state=event.state, outcome=outcome).inc()

    def count_attempts(self, attempts: Iterable[tuple[str, Delivery]]) -> None:
        """``attempts``: (state, the delivery after its attempt), once the batch committed."""
        for state, delivery in attempts:
            result = "delivered" if delivery.status is DeliveryStatus.DELIVERED else "failed"
            self.webhook_attempts.labels(state=state, result=result).inc()

    def set_gauges(
        self, states: Iterable[str], pending: Mapping[str, int], undelivered: Mapping[tuple[str, str], int]
    ) -> None:
        # Every known state (and any state the counts name) is set, 0 when none, so series never vanish.
        known = set(states) | set(pending) | {state for state, _ in undelivered}
        for state in sorted(known):
            self.pending_approval.labels(state=state).set(pending.get(state, 0))
            for status in WEBHOOK_STATUSES:
                self.webhook_deliveries.labels(state=state, status=status).set(undelivered.get((state, status), 0))
            for result in ("delivered", "failed"):  # counters at 0 too: a first failure is then an increase
                self.webhook_attempts.labels(state=state, result=result)
