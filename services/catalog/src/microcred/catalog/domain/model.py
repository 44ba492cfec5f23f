"""Catalog rules. A published version is immutable; only drafts change, and only by their issuer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from microcred.events import Resource, Rubric, SubmissionCriteria
from microcred.runtime.errors import Conflict


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


@dataclass(frozen=True)
class CredentialDefinition:
    """The six components the field uses, plus what describes the credential."""

    name: str
    description: str
    competency: str
    key_method: str
    method_components: tuple[str, ...]
    research: tuple[Resource, ...]
    submission_criteria: SubmissionCriteria
    rubric: Rubric
    subjects: tuple[str, ...] = ()
    grade_bands: tuple[str, ...] = ()
    estimated_hours: float | None = None


@dataclass
class CredentialVersion:
    credential_id: UUID
    version: int
    issuer_id: UUID
    definition: CredentialDefinition
    status: VersionStatus = VersionStatus.DRAFT

    def publish(self) -> None:
        if self.status is not VersionStatus.DRAFT:
            raise Conflict(
                f"version {self.version} of credential {self.credential_id} is {self.status.value}; "
                "only a draft can be published",
                code="not_a_draft",
            )
        self.status = VersionStatus.PUBLISHED
