"""Every topic has one size and one retention, wherever it is created (dev stack, compose, Strimzi)."""

from __future__ import annotations

import pytest

from microcred.events import CredentialAwarded, CredentialPublished
from microcred.events.registry import all_topics
from microcred.events.topics import (
    DEAD_LETTER_PARTITIONS,
    FOREVER,
    consumer_group,
    event_topics,
    max_useful_replicas,
    platform_topics,
    state_feed,
    topic_spec,
)


def test_every_fixed_topic_and_dead_letter_companion_is_sized_and_nothing_else_is() -> None:
    assert [spec.name for spec in platform_topics()] == list(all_topics())
    for topic in event_topics():
        assert topic_spec(topic).partitions >= 1
    with pytest.raises(KeyError):
        topic_spec("catalog.credential-publishd")
    with pytest.raises(KeyError):
        topic_spec("licensure.state")


def test_dead_letters_are_kept_until_a_person_replays_them() -> None:
    for topic in event_topics():
        dead = topic_spec(f"{topic}.dlt")
        assert (dead.partitions, dead.retention_ms) == (DEAD_LETTER_PARTITIONS, FOREVER)


def test_a_state_feed_is_its_own_topic_with_its_own_size() -> None:
    assert state_feed("TN").name == "licensure.state.TN"
    with pytest.raises(ValueError):
        state_feed("tn")


def test_groups_are_named_service_dot_topic() -> None:
    assert consumer_group("licensure", CredentialAwarded.topic) == "licensure.award.awarded"


def test_useful_replicas_stop_at_the_largest_partition_count_a_service_reads() -> None:
    flow = topic_spec(CredentialAwarded.topic).partitions
    rare = topic_spec(CredentialPublished.topic).partitions
    assert flow > rare
    assert max_useful_replicas([CredentialPublished, CredentialAwarded]) == flow
    assert max_useful_replicas([CredentialPublished, CredentialAwarded], workers_per_topic=3) == -(-flow // 3)
    assert max_useful_replicas([]) == 0
