"""Catalog contracts: what a published micro-credential version is, for every other service."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field, HttpUrl, model_validator

from microcred.events.base import Contract, IntegrationEvent


class EvidenceKind(StrEnum):
    VIDEO = "video"
    STUDENT_WORK = "student_work"
    REFLECTION = "reflection"
    DOCUMENT = "document"


class EvidenceRequirement(Contract):
    key: str = Field(min_length=1, max_length=80)
    kind: EvidenceKind
    title: str = Field(min_length=1)
    prompts: tuple[str, ...] = ()
    required: bool = True


class SubmissionCriteria(Contract):
    items: tuple[EvidenceRequirement, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> SubmissionCriteria:
        keys = [item.key for item in self.items]
        if len(keys) != len(set(keys)):
            raise ValueError("evidence requirement keys must be unique")
        return self


class RubricLevel(Contract):
    key: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1)
    points: int = Field(ge=0)
    descriptor: str = ""


class RubricCriterion(Contract):
    key: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1)
    description: str = ""
    levels: tuple[RubricLevel, ...] = Field(min_length=2, description="Ordered lowest first.")

    @model_validator(mode="after")
    def _levels_ascend(self) -> RubricCriterion:
        points = [level.points for level in self.levels]
        if points != sorted(points) or len(set(points)) != len(points):
            raise ValueError(f"levels of criterion {self.key!r} must ascend strictly in points")
        if len({level.key for level in self.levels}) != len(self.levels):
            raise ValueError(f"level keys of criterion {self.key!r} must be unique")
        return self

    def level(self, key: str) -> RubricLevel | None:
        return next((level for level in self.levels if level.key == key), None)


class PassingRule(Contract):
    """Either every criterion reaches ``level``, or the points add up to ``points``."""

    kind: Literal["all_criteria_at_least", "minimum_total"]
    level: str | None = None
    points: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _argument_matches_kind(self) -> PassingRule:
        if self.kind == "all_criteria_at_least" and not self.level:
            raise ValueError("all_criteria_at_least needs a level")
        if self.kind == "minimum_total" and self.points is None:
            raise ValueError("minimum_total needs points")
        return self


class Rubric(Contract):
    criteria: tuple[RubricCriterion, ...] = Field(min_length=1)
    passing_rule: PassingRule

    @model_validator(mode="after")
    def _passing_level_exists(self) -> Rubric:
        if len({c.key for c in self.criteria}) != len(self.criteria):
            raise ValueError("criterion keys must be unique")
        rule = self.passing_rule
        if rule.kind == "all_criteria_at_least":
            for criterion in self.criteria:
                if criterion.level(rule.level or "") is None:
                    raise ValueError(
                        f"passing level {rule.level!r} is not a level of criterion {criterion.key!r}"
                    )
        return self

    def criterion(self, key: str) -> RubricCriterion | None:
        return next((c for c in self.criteria if c.key == key), None)


class Resource(Contract):
    title: str = Field(min_length=1)
    url: HttpUrl | None = None


class IssuerProfile(Contract):
    issuer_id: UUID
    name: str
    url: HttpUrl | None = None
    email: str | None = None


class CredentialPublished(IntegrationEvent):
    """A micro-credential version became available for submissions. Published versions never change."""

    topic: ClassVar[str] = "catalog.credential-published"
    key_field: ClassVar[str] = "credential_id"

    event_type: Literal["catalog.credential-published"] = "catalog.credential-published"
    event_version: Literal[1] = 1

    credential_id: UUID
    version: int = Field(ge=1)
    issuer: IssuerProfile
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
