"""Signing and verification metrics on the service's Prometheus registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class AwardMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry when none is given keeps tests and benchmarks from colliding on names.
        registry = registry or CollectorRegistry()
        self.signing_seconds = Histogram(
            "microcred_award_signing_seconds",
            "Time to canonicalize and sign one document (eddsa-rdfc-2022)",
            ["document"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=registry,
        )
        self.verifications = Counter(
            "microcred_award_verifications_total",
            "Credentials checked by the verifier (page, API), by outcome",
            ["outcome"],
            registry=registry,
        )
