"""Submission's domain metrics on the service's Prometheus registry.

Counters move on events the unit of work committed (never on a rolled-back attempt); the status gauge is
read from the database by a background loop, so a scrape costs only the exposition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

from microcred.events import IntegrationEvent, SubmissionSubmitted
from microcred.submission.domain.model import SubmissionStatus


class SubmissionMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry when none is given keeps tests and benchmarks from colliding on names.
        registry = registry or CollectorRegistry()
        self.submitted = Counter(
            "microcred_submissions_submitted",
            "Submissions (and resubmissions) submitted for review",
            registry=registry,
        )
        self.by_status = Gauge(
            "microcred_submissions",
            "Submissions by status, as last read from the database",
            ["status"],
            registry=registry,
        )

    def count_committed(self, events: Iterable[IntegrationEvent]) -> None:
        for event in events:
            if isinstance(event, SubmissionSubmitted):
                self.submitted.inc()

    def set_statuses(self, counts: Mapping[str, int]) -> None:
        # Every known status is set, 0 when none, so a series never vanishes when its last row moves on.
        for status in SubmissionStatus:
            self.by_status.labels(status=status.value).set(counts.get(status.value, 0))
