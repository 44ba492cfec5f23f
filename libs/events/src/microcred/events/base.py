"""The envelope every integration event carries, and the tolerant-reader rule.

Producers build events from Python and must not invent fields: models forbid unknown fields.
Consumers read events that a newer producer may have extended with optional fields: they validate
with ``context={"tolerant": True}``, which drops fields the reader does not know before validation.
That is how a published version can grow by optional fields without breaking older consumers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

TOLERANT: dict[str, Any] = {"tolerant": True}


class Contract(BaseModel):
    """Base of every model in the published language (events and the values inside them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_unknown_fields_for_tolerant_readers(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get("tolerant") and isinstance(data, dict):
            known = set(cls.model_fields)
            return {key: value for key, value in data.items() if key in known}
        return data


@dataclass(frozen=True)
class RecordKind:
    """One kind of record a contract carries: what it means, and the optional fields it always has."""

    description: str
    required: tuple[str, ...] = ()


def utc_now() -> datetime:
    return datetime.now(UTC)


class IntegrationEvent(Contract):
    """Envelope fields shared by every event; subclasses add their data fields.

    ``topic`` and ``key_field`` are class-level facts of the contract: one topic per event type, and
    the record key is the id of the aggregate the event is about, so Kafka keeps each aggregate's
    events in order within its topic.
    """

    topic: ClassVar[str]
    key_field: ClassVar[str]
    #: A contract carrying several kinds of record names the field that tells them apart, and each kind:
    #: its AsyncAPI document then describes one message per kind.
    record_kind_field: ClassVar[str | None] = None
    record_kinds: ClassVar[Mapping[str, RecordKind]] = {}

    event_id: UUID = Field(default_factory=uuid4)
    event_type: str
    event_version: int
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    correlation_id: UUID
    causation_id: UUID | None = None
    states: tuple[str, ...] = Field(
        default=(),
        description="US state codes (e.g. TN) of the teacher this event concerns; drives state feeds.",
    )

    @field_validator("occurred_at")
    @classmethod
    def _normalise_to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("states")
    @classmethod
    def _state_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if len(code) != 2 or not code.isalpha() or not code.isupper():
                raise ValueError(f"state code must be two upper-case letters, got {code!r}")
        return value

    def record_key(self) -> bytes:
        return str(getattr(self, self.key_field)).encode()

    def destination_topic(self) -> str:
        """The topic this record goes to: the class's, unless the contract routes per record."""
        return self.topic

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
