"""Microcred's published language.

Everything another service may know about a service lives here: the integration events, their topics
and record keys, and the JSON Schema snapshot of every published version. Services import this package
and nothing of each other.
"""

from microcred.events.award import (
    AwardKind,
    CollectionAwarded,
    CredentialAwarded,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
)
from microcred.events.base import Contract, IntegrationEvent
from microcred.events.catalog import (
    Alignment,
    CredentialPublished,
    CredentialRetired,
    CreditHint,
    EvidenceKind,
    EvidenceRequirement,
    IssuerProfile,
    PassingRule,
    PathwayChanged,
    PathwayStep,
    Resource,
    Rubric,
    RubricCriterion,
    RubricLevel,
    StackChanged,
    SubmissionCriteria,
)
from microcred.events.licensure import (
    CreditConsequence,
    CreditPosted,
    CreditReversed,
    StateFeedRecord,
    StateFeedRecordV1,
    StateRecordType,
    state_feed_topic,
)
from microcred.events.registry import (
    ALL_EVENTS,
    PoisonMessage,
    UnknownEventType,
    dead_letter_topic,
    decode_event,
    event_class,
    topic_of,
)
from microcred.events.review import (
    CriterionFeedback,
    CriterionResult,
    ReviewerAssigned,
    ReviewerReleased,
    RevisionRequested,
    SubmissionScored,
)
from microcred.events.submission import EvidenceRef, PromptResponse, SubmissionSubmitted, SubmissionWithdrawn

__all__ = [
    "ALL_EVENTS",
    "Alignment",
    "AwardKind",
    "CollectionAwarded",
    "Contract",
    "CredentialAwarded",
    "CredentialPublished",
    "CredentialReinstated",
    "CredentialRetired",
    "CredentialRevoked",
    "CredentialSuspended",
    "CreditConsequence",
    "CreditHint",
    "CreditPosted",
    "CreditReversed",
    "CriterionFeedback",
    "CriterionResult",
    "EvidenceKind",
    "EvidenceRef",
    "EvidenceRequirement",
    "IntegrationEvent",
    "IssuerProfile",
    "PassingRule",
    "PathwayChanged",
    "PathwayStep",
    "PoisonMessage",
    "PromptResponse",
    "Resource",
    "ReviewerAssigned",
    "ReviewerReleased",
    "RevisionRequested",
    "Rubric",
    "RubricCriterion",
    "RubricLevel",
    "StackChanged",
    "StateFeedRecord",
    "StateFeedRecordV1",
    "StateRecordType",
    "SubmissionCriteria",
    "SubmissionScored",
    "SubmissionSubmitted",
    "SubmissionWithdrawn",
    "UnknownEventType",
    "dead_letter_topic",
    "decode_event",
    "event_class",
    "state_feed_topic",
    "topic_of",
]
