"""What the generated objects are made of: the services' declarations, the states with a feed, the agencies.

Each service's ``microcred.<service>.topics`` holds plain tuples of event contracts and imports nothing but
libs/events, so reading it builds no app and connects to nothing. Services never import each other; this generator
is not a service, it reads each one's declaration as the AsyncAPI documents do from the running apps.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from microcred.events import IntegrationEvent, state_feed_topic
from microcred.events.registry import PER_STATE_EVENTS, dead_letter_topic
from microcred.events.topics import consumer_group
from microcred.licensure.adapters.rule_files import shipped_rule_sets

# The Kafka clients, one principal each. Not the canary: it drives the platform through the public HTTP APIs only
# (an import contract forbids it a Kafka client) and components/kafka-security gives it no Kafka settings, so a
# principal would be a credential nobody uses, and its Secret would take the name of the canary's token Secret.
SERVICES = ("catalog", "submission", "review", "award", "licensure")

# The state agencies of the production example, each reading its own feed with its own principal.
AGENCY_STATES = ("TN", "UT", "AR")

# Bytes per second each agency may fetch from each broker. A feed record is a few KiB (an award's carries its
# signed credential), so 1 MiB/s replays a year of a large state's feed in minutes while one agency's catch-up
# cannot take the brokers' bandwidth from the services.
AGENCY_CONSUMER_BYTE_RATE = 1024 * 1024


@dataclass(frozen=True)
class KafkaClient:
    """One service as Kafka sees it: the topics it writes and reads, and the groups it reads them in."""

    name: str
    produces: tuple[type[IntegrationEvent], ...]
    consumes: tuple[type[IntegrationEvent], ...]

    @property
    def user(self) -> str:
        return f"microcred-{self.name}"

    def written_topics(self, feed_states: tuple[str, ...]) -> list[str]:
        """Its own events (a per-state contract: one feed per state) and the dead letters of what it reads."""
        own = {cls.topic for cls in self.produces if cls not in PER_STATE_EVENTS}
        if any(cls in PER_STATE_EVENTS for cls in self.produces):
            own |= {state_feed_topic(state) for state in feed_states}
        return sorted(own) + sorted({dead_letter_topic(cls.topic) for cls in self.consumes})

    def read_topics(self) -> list[str]:
        return sorted({cls.topic for cls in self.consumes})

    def groups(self) -> list[str]:
        return sorted({consumer_group(self.name, cls.topic) for cls in self.consumes})


def kafka_clients() -> list[KafkaClient]:
    clients = []
    for name in SERVICES:
        declaration = importlib.import_module(f"microcred.{name}.topics")
        clients.append(KafkaClient(name, tuple(declaration.PRODUCES), tuple(declaration.CONSUMES)))
    return clients


def feed_states() -> tuple[str, ...]:
    """Every state whose feed licensure writes: those of its shipped rule sets, which it loads at every start,
    and the agencies'. A rule set published later for another state needs its state added here first."""
    return tuple(sorted({rule_set.state for rule_set in shipped_rule_sets()} | set(AGENCY_STATES)))
