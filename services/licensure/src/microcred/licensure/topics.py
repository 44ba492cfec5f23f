"""What licensure writes to and reads from Kafka: the declaration its app is built from and the Kafka ACLs are made of.

bootstrap hands both tuples to the runtime, which refuses to build the app when the consumers registered differ from
``CONSUMES`` (so this cannot fall behind the code), and deploy/k8s/k8sgen (``make k8s``) reads them, without
building the app, for the service's KafkaUser: Write on what it produces and on the dead letters of what it consumes,
Read on what it consumes and on its groups ``licensure.<topic>``.
"""

from __future__ import annotations

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    CreditPosted,
    CreditReversed,
    IntegrationEvent,
    PathwayChanged,
    RecognitionGranted,
    RecognitionReversed,
    StackChanged,
    StateFeedRecord,
)

# StateFeedRecord's topic is a prefix: each state's feed is its own topic, licensure.state.<XX>, one per
# state with a rule set (deploy/k8s/k8sgen provisions those of the shipped rule sets and the agencies).
PRODUCES: tuple[type[IntegrationEvent], ...] = (
    CreditPosted, CreditReversed, RecognitionGranted, RecognitionReversed, StateFeedRecord,
)
CONSUMES: tuple[type[IntegrationEvent], ...] = (
    CredentialAwarded, CredentialRevoked, CredentialSuspended, CredentialReinstated, CredentialPublished, StackChanged,
    PathwayChanged,
)
