"""Award contracts."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from microcred.events.base import IntegrationEvent


class CredentialAwarded(IntegrationEvent):
    """A teacher earned a micro-credential. ``credential`` is the issued credential document.

    The envelope's ``states`` are the states the teacher declared (from their token) when submitting,
    carried through review; licensure credits every license the teacher holds, whatever the states.
    """

    topic: ClassVar[str] = "award.awarded"
    key_field: ClassVar[str] = "award_id"

    event_type: Literal["award.awarded"] = "award.awarded"
    event_version: Literal[1] = 1

    award_id: UUID
    submission_id: UUID
    credential_id: UUID
    credential_version: int = Field(ge=1)
    credential_name: str
    issuer_id: UUID
    teacher_id: str
    issued_at: AwareDatetime
    valid_until: AwareDatetime | None = None
    credential: dict[str, Any] = Field(description="The issued credential document (JSON-LD).")
