"""Award's metrics on the service's Prometheus registry: standing changes, signing and verification.

Standing changes are counted on the events a transaction committed (``AwardUnitOfWork.commit``): every
award, collection award, revocation, suspension and reinstatement is announced as exactly one event,
whatever the code path, and a rolled-back transaction wrote none.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from microcred.events import (
    CollectionAwarded,
    CredentialAwarded,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    IntegrationEvent,
)

AWARD_KINDS = ("micro_credential", "stack", "pathway")
STANDING_EVENTS = {CredentialRevoked: "revoked", CredentialSuspended: "suspended", CredentialReinstated: "reinstated"}


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
        self.awards = Counter(
            "microcred_awards",
            "Standing changes of awards (issued, revoked, suspended, reinstated), by kind of award",
            ["kind", "event"],
            registry=registry,
        )
        # Both label sets are closed, so every series starts at 0: a first revocation then shows as an
        # increase (rate() and increase() see nothing on a series born at 1).
        for kind in AWARD_KINDS:
            for event in ("issued", *STANDING_EVENTS.values()):
                self.awards.labels(kind=kind, event=event)

    def count_committed(self, events: Iterable[IntegrationEvent]) -> None:
        for event in events:
            if isinstance(event, CredentialAwarded):
                self.awards.labels(kind="micro_credential", event="issued").inc()
            elif isinstance(event, CollectionAwarded):
                self.awards.labels(kind=event.kind, event="issued").inc()
            elif isinstance(event, CredentialRevoked | CredentialSuspended | CredentialReinstated):
                self.awards.labels(kind=event.kind, event=STANDING_EVENTS[type(event)]).inc()
