"""How every topic is sized and kept, and how consumer groups are named: one source for every place a topic is made.

The dev stack (``microcred up`` and the tests), docker-compose's topic list and the Strimzi ``KafkaTopic`` and
``KafkaUser`` objects (``make k8s``, deploy/k8s/k8sgen) all read this module, so a topic has the same partitions
wherever it is created, and the Kafka ACLs name the same groups the consumers join.

Partitions. A partition is read by one consumer of a group at a time, so a topic's partition count is the most
consumers of one group that do work: a consumer service runs ``consumer_workers_per_topic`` consumers per
topic in each replica, and replicas past ``partitions / consumer_workers_per_topic`` hold no partition of
that topic. KEDA scales a consumer service on its groups' lag; its ``maxReplicaCount`` must not exceed the
largest partition count among the topics the service reads (``max_useful_replicas``), or the extra
replicas only sit idle. Partitions can be added later but never removed, and adding them moves keys to
other partitions (a key's order holds only within one partition), so they are sized with headroom now:

- ``FLOW``, 6: the topics every submission goes through (submitted, assigned, scored, awarded...). At most a
  few records per teacher's step; 6 lets each consumer service run up to 6 single-worker replicas, or two
  replicas of three workers each, with every consumer holding a partition. Two replicas of every service
  (the scale-out test) then share every flow topic's partitions.
- ``RARE``, 3: catalog changes, revocations, suspensions, collections and credits, a handful a day.
- dead letters, 1: a dead letter is rare and read by a person; nothing consumes a ``.dlt`` topic as a group.
- state feeds, 3: one agency reader is the norm; 3 leaves room for an agency that runs a few.

Retention. Consumers start from the earliest offset, so what a topic keeps is what a new or reset consumer
group can still learn, and how long a consumer may be away without losing records:

- catalog and award topics are kept forever: they are the platform's reference facts (which credentials
  exist, who holds what), small, and a new subscriber rebuilds its view from their whole history;
- flow topics and credits keep 30 days: the work is in flight for days, and a consumer away a month has
  bigger problems than its backlog;
- dead letters are kept forever: each waits for a person to replay it (``microcred dead-letters``), and one
  expiring silently would be a teacher's step lost;
- a state's feed keeps 365 days: its reader is another organisation's system on its own schedule, and the
  state's report API covers anything older.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from microcred.events.base import IntegrationEvent
from microcred.events.licensure import state_feed_topic
from microcred.events.registry import ALL_EVENTS, PER_STATE_EVENTS, dead_letter_topic

DAY_MS = 24 * 60 * 60 * 1000
FOREVER = -1  # retention.ms: never deleted

FLOW = 6
RARE = 3
DEAD_LETTER_PARTITIONS = 1
STATE_FEED_PARTITIONS = 3
STATE_FEED_RETENTION_MS = 365 * DAY_MS


@dataclass(frozen=True)
class TopicSpec:
    """A topic as the broker should hold it. ``retention_ms`` is Kafka's ``retention.ms`` (-1: forever)."""

    name: str
    partitions: int
    retention_ms: int


# Every fixed topic, by name: (partitions, retention). tests check it names exactly the contracts' topics.
_SIZING: dict[str, tuple[int, int]] = {
    "catalog.credential-published": (RARE, FOREVER),
    "catalog.credential-retired": (RARE, FOREVER),
    "catalog.stack-changed": (RARE, FOREVER),
    "catalog.pathway-changed": (RARE, FOREVER),
    "submission.submitted": (FLOW, 30 * DAY_MS),
    "submission.withdrawn": (FLOW, 30 * DAY_MS),
    "review.assigned": (FLOW, 30 * DAY_MS),
    "review.released": (FLOW, 30 * DAY_MS),
    "review.scored": (FLOW, 30 * DAY_MS),
    "review.revise-requested": (FLOW, 30 * DAY_MS),
    "award.awarded": (FLOW, FOREVER),
    "award.collection-awarded": (RARE, FOREVER),
    "award.revoked": (RARE, FOREVER),
    "award.suspended": (RARE, FOREVER),
    "award.reinstated": (RARE, FOREVER),
    "licensure.credit-posted": (RARE, 30 * DAY_MS),
    "licensure.credit-reversed": (RARE, 30 * DAY_MS),
    # One per outcome a teacher earns or loses: sized and kept like the flow topics they follow from.
    "licensure.recognition-granted": (FLOW, 30 * DAY_MS),
    "licensure.recognition-reversed": (FLOW, 30 * DAY_MS),
}


def event_topics() -> tuple[str, ...]:
    """The fixed topics the contracts publish to (not their dead letters, not the per-state feeds)."""
    return tuple(sorted({cls.topic for cls in ALL_EVENTS if cls not in PER_STATE_EVENTS}))


def topic_spec(topic: str) -> TopicSpec:
    """The spec of a fixed topic or of its dead-letter companion; KeyError for a topic the platform has not."""
    if topic.endswith(".dlt"):
        _ = _SIZING[topic.removesuffix(".dlt")]
        return TopicSpec(topic, DEAD_LETTER_PARTITIONS, FOREVER)
    partitions, retention_ms = _SIZING[topic]
    return TopicSpec(topic, partitions, retention_ms)


def platform_topics() -> list[TopicSpec]:
    """Every fixed topic and its dead-letter companion, as ``registry.all_topics()`` names them."""
    topics = event_topics()
    return [topic_spec(t) for t in topics] + [topic_spec(dead_letter_topic(t)) for t in topics]


def state_feed(state: str) -> TopicSpec:
    return TopicSpec(state_feed_topic(state), STATE_FEED_PARTITIONS, STATE_FEED_RETENTION_MS)


def consumer_group(service: str, topic: str) -> str:
    """A service's group for one topic. Each (service, topic) pair is its own group (runtime.consumer.subscribe
    says why); every group of a service starts with ``<service>.``, which is what its Kafka ACL grants."""
    return f"{service}.{topic}"


def max_useful_replicas(consumes: Iterable[type[IntegrationEvent]], workers_per_topic: int = 1) -> int:
    """The most replicas of a service that reading ``consumes`` can keep busy: past it, no replica holds a
    partition of any topic it reads. The ceiling for its autoscaler's maximum replicas."""
    most = max((topic_spec(cls.topic).partitions for cls in consumes), default=0)
    return -(-most // workers_per_topic)  # rounded up: the last replica may hold fewer partitions than workers
