"""Topics, the type registry, and decoding of raw Kafka values into contracts.

Decoding is where a consumer decides whether a message can ever succeed: anything that is not valid
JSON, names an unknown event type or version, or fails validation is a :class:`PoisonMessage`, which
the runtime sends to the dead-letter topic instead of retrying.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import ValidationError

from microcred.events.award import (
    CollectionAwarded,
    CredentialAwarded,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
)
from microcred.events.base import TOLERANT, IntegrationEvent
from microcred.events.catalog import CredentialPublished, CredentialRetired, PathwayChanged, StackChanged
from microcred.events.licensure import (
    CreditPosted,
    CreditReversed,
    RecognitionGranted,
    RecognitionReversed,
    StateFeedRecord,
    StateFeedRecordV1,
    StateFeedRecordV2,
)
from microcred.events.review import ReviewerAssigned, ReviewerReleased, RevisionRequested, SubmissionScored
from microcred.events.submission import SubmissionSubmitted, SubmissionWithdrawn

ALL_EVENTS: tuple[type[IntegrationEvent], ...] = (
    CredentialPublished,
    CredentialRetired,
    StackChanged,
    PathwayChanged,
    SubmissionSubmitted,
    SubmissionWithdrawn,
    ReviewerAssigned,
    ReviewerReleased,
    SubmissionScored,
    RevisionRequested,
    CredentialAwarded,
    CollectionAwarded,
    CredentialRevoked,
    CredentialSuspended,
    CredentialReinstated,
    CreditPosted,
    CreditReversed,
    RecognitionGranted,
    RecognitionReversed,
    StateFeedRecordV1,
    StateFeedRecordV2,
    StateFeedRecord,
)

_BY_TYPE_AND_VERSION: dict[tuple[str, int], type[IntegrationEvent]] = {
    (cls.model_fields["event_type"].default, cls.model_fields["event_version"].default): cls
    for cls in ALL_EVENTS
}

E = TypeVar("E", bound=IntegrationEvent)


class PoisonMessage(Exception):
    """A message that can never be processed, whatever the number of retries."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(PoisonMessage):
    pass


def topic_of(cls: type[IntegrationEvent]) -> str:
    return cls.topic


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlt"


# Events whose ``topic`` is a prefix: each state's feed is its own topic (``state_feed_topic``),
# created by the licensure service for the states it has rule sets for.
PER_STATE_EVENTS: tuple[type[IntegrationEvent], ...] = (StateFeedRecordV1, StateFeedRecordV2, StateFeedRecord)


def all_topics() -> tuple[str, ...]:
    """The platform's fixed topics and their dead-letter companions (per-state feeds are not fixed)."""
    topics = tuple(sorted({cls.topic for cls in ALL_EVENTS if cls not in PER_STATE_EVENTS}))
    return topics + tuple(dead_letter_topic(t) for t in topics)


def event_class(event_type: str, event_version: int) -> type[IntegrationEvent]:
    try:
        return _BY_TYPE_AND_VERSION[(event_type, event_version)]
    except KeyError:
        raise UnknownEventType(
            f"unknown event type/version {event_type!r} v{event_version!r}"
        ) from None


def decode_event(raw: bytes | str, expected: type[E] | None = None) -> IntegrationEvent:
    """Decode a Kafka value as a tolerant reader; raise PoisonMessage if it can never be processed."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PoisonMessage("event is not a JSON object")
    event_type, event_version = data.get("event_type"), data.get("event_version")
    if not isinstance(event_type, str) or not isinstance(event_version, int):
        raise PoisonMessage("event_type (string) and event_version (integer) are required")
    cls = event_class(event_type, event_version)
    if expected is not None and cls is not expected:
        raise PoisonMessage(f"expected {expected.__name__}, got {event_type} v{event_version}")
    try:
        return cls.model_validate(data, context=TOLERANT)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise PoisonMessage(f"{event_type} v{event_version} failed validation: {errors}") from None
