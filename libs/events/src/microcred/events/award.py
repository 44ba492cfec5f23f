"""Award contracts.

Every issued credential, whether for one micro-credential or for a completed stack or pathway, can
later change status: revoked (final), suspended (reversible) or reinstated. Those changes are events
of their own so that licensure can reverse or restore credit and state agencies can mirror status;
the public Bitstring Status List says the same to verifiers who never see our events.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from microcred.events.base import IntegrationEvent

AwardKind = Literal["micro_credential", "stack", "pathway"]


class CredentialAwarded(IntegrationEvent):
    """A teacher earned a micro-credential. ``credential`` is the issued, signed credential document.

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
    credential: dict[str, Any] = Field(
        description="The issued OpenBadgeCredential (JSON-LD) with its Data Integrity proof."
    )
    credential_url: str | None = Field(
        default=None, description="Public URL of the credential document; its HTML page is the same path."
    )


class CollectionAwarded(IntegrationEvent):
    """A teacher holds every credential of a stack, or completed a pathway, and was issued its credential.

    Issued once per teacher and collection. It is not a micro-credential award: licensure credits the
    micro-credentials themselves, so it can tell the two apart by topic.
    """

    topic: ClassVar[str] = "award.collection-awarded"
    key_field: ClassVar[str] = "award_id"

    event_type: Literal["award.collection-awarded"] = "award.collection-awarded"
    event_version: Literal[1] = 1

    award_id: UUID
    kind: Literal["stack", "pathway"]
    collection_id: UUID = Field(description="The stack id or the pathway id.")
    collection_revision: int = Field(ge=1, description="The revision whose credentials the teacher held.")
    name: str
    issuer_id: UUID
    teacher_id: str
    issued_at: AwareDatetime
    valid_until: AwareDatetime | None = None
    component_award_ids: tuple[UUID, ...] = Field(min_length=1)
    credential: dict[str, Any] = Field(description="The issued OpenBadgeCredential with its proof.")
    credential_url: str | None = None


class _AwardStatusChanged(IntegrationEvent):
    key_field: ClassVar[str] = "award_id"

    award_id: UUID
    kind: AwardKind = "micro_credential"
    achievement_id: UUID = Field(description="The credential id, stack id or pathway id the award is for.")
    issuer_id: UUID
    teacher_id: str
    reason: str = Field(min_length=1)
    changed_at: AwareDatetime
    changed_by: str = Field(description="Subject of the operator or issuer admin who made the change.")


class CredentialRevoked(_AwardStatusChanged):
    """An award was revoked. Final: a revoked credential is never valid again."""

    topic: ClassVar[str] = "award.revoked"

    event_type: Literal["award.revoked"] = "award.revoked"
    event_version: Literal[1] = 1


class CredentialSuspended(_AwardStatusChanged):
    """An award was suspended: not valid until reinstated."""

    topic: ClassVar[str] = "award.suspended"

    event_type: Literal["award.suspended"] = "award.suspended"
    event_version: Literal[1] = 1


class CredentialReinstated(_AwardStatusChanged):
    """A suspended award is valid again."""

    topic: ClassVar[str] = "award.reinstated"

    event_type: Literal["award.reinstated"] = "award.reinstated"
    event_version: Literal[1] = 1
