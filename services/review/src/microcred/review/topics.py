"""What review writes to and reads from Kafka: the declaration its app is built from and the Kafka ACLs are made of.

bootstrap hands both tuples to the runtime, which refuses to build the app when the consumers registered differ from
``CONSUMES`` (so this cannot fall behind the code), and deploy/k8s/k8sgen (``make k8s``) reads them, without
building the app, for the service's KafkaUser: Write on what it produces and on the dead letters of what it consumes,
Read on what it consumes and on its groups ``review.<topic>``.
"""

from __future__ import annotations

from microcred.events import (
    CredentialPublished,
    IntegrationEvent,
    ReviewerAssigned,
    ReviewerReleased,
    RevisionRequested,
    SubmissionScored,
    SubmissionSubmitted,
    SubmissionWithdrawn,
)

PRODUCES: tuple[type[IntegrationEvent], ...] = (ReviewerAssigned, ReviewerReleased, SubmissionScored, RevisionRequested)
CONSUMES: tuple[type[IntegrationEvent], ...] = (CredentialPublished, SubmissionSubmitted, SubmissionWithdrawn)
