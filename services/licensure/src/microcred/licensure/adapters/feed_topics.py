"""Per-state feed topics: ``licensure.state.<XX>``, one per state with a rule set.

A state reads its feed with any Kafka client; access is limited to its own topic by ACLs (docs/operations/kafka-topics-and-acls.md).
Creating the topics here, idempotently, keeps a new state's feed from waiting on a ticket; where the
platform team provisions topics instead, ``create_state_topics`` turns this off.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from microcred.events import state_feed_topic
from microcred.runtime.kafka_clients import kafka_client_options
from microcred.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)


async def ensure_state_topics(settings: KafkaSettings, states: Iterable[str], partitions: int) -> list[str]:
    """Create the feed topic of every state that lacks one; returns the topics created."""
    wanted = {state_feed_topic(state) for state in states}
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        missing = sorted(wanted - set(await admin.list_topics()))
        if missing:
            # Another replica may make one between the listing and the request: that is success too.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, partitions, 1) for topic in missing])
            log.info("created state feed topics %s", ", ".join(missing))
        return missing
    finally:
        await admin.close()
