"""Submission contracts. Evidence travels by reference: the bytes stay in the object store."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from microcred.events.base import Contract, IntegrationEvent


class EvidenceRef(Contract):
    evidence_id: UUID
    requirement_key: str
    object_key: str = Field(description="Key in the evidence bucket; never the bytes.")
    filename: str
    content_type: str = Field(description="Sniffed from the stored bytes, not the uploader's claim.")
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    duration_seconds: float | None = Field(default=None, ge=0, description="Measured from the bytes (video).")


class PromptResponse(Contract):
    """The teacher's written answer to one prompt of an evidence requirement (text, not a file)."""

    requirement_key: str
    prompt: str
    answer: str
    prompt_index: int | None = Field(default=None, ge=0, description="Position of the prompt in the requirement.")


class SubmissionSubmitted(IntegrationEvent):
    """A teacher submitted (attempt 1) or resubmitted (attempt 2, 3, ...) evidence for review.

    A resubmission is this event with ``attempt`` > 1 on the same topic and key, deliberately: one
    topic keyed by submission keeps every attempt of a submission in order for its consumers.
    """

    topic: ClassVar[str] = "submission.submitted"
    key_field: ClassVar[str] = "submission_id"

    event_type: Literal["submission.submitted"] = "submission.submitted"
    event_version: Literal[1] = 1

    submission_id: UUID
    attempt: int = Field(ge=1)
    credential_id: UUID
    credential_version: int = Field(ge=1)
    teacher_id: str
    evidence: tuple[EvidenceRef, ...] = Field(min_length=1)
    responses: tuple[PromptResponse, ...] = ()
    teacher_district: str | None = Field(
        default=None, description="For conflict-of-interest routing only; never shown to reviewers."
    )
    teacher_school: str | None = Field(
        default=None, description="For conflict-of-interest routing only; never shown to reviewers."
    )
    teacher_email: str | None = Field(
        default=None, description="Only ever published hashed and salted, as the credential's identity."
    )
    teacher_did: str | None = Field(
        default=None, description="The teacher's DID, when they have one: the credential's subject id."
    )
    note_to_reviewer: str | None = Field(
        default=None, max_length=2000,
        description="Plain text the teacher sent with this attempt for its reviewer (typically what changed after "
                    "a revision request); shown to the reviewer as written.",
    )


class SubmissionWithdrawn(IntegrationEvent):
    """The teacher withdrew the submission; any open review of it is void."""

    topic: ClassVar[str] = "submission.withdrawn"
    key_field: ClassVar[str] = "submission_id"

    event_type: Literal["submission.withdrawn"] = "submission.withdrawn"
    event_version: Literal[1] = 1

    submission_id: UUID
    attempt: int = Field(ge=1)
    teacher_id: str
    reason: str | None = None
