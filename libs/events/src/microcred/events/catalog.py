"""Catalog contracts: what a published micro-credential version is, for every other service."""

from __future__ import annotations

from decimal import Decimal
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
    """One kind of evidence a submission must (or may) include, with the limits a check can enforce."""

    key: str = Field(min_length=1, max_length=80)
    kind: EvidenceKind
    title: str = Field(min_length=1)
    prompts: tuple[str, ...] = ()
    required: bool = True
    min_count: int = Field(default=1, ge=1)
    max_count: int | None = Field(default=None, ge=1)
    max_size_bytes: int | None = Field(default=None, ge=1)
    min_duration_seconds: int | None = Field(default=None, ge=1)
    max_duration_seconds: int | None = Field(default=None, ge=1)
    accepted_content_types: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> EvidenceRequirement:
        if self.max_count is not None and self.max_count < self.min_count:
            raise ValueError(f"evidence {self.key!r}: max_count is below min_count")
        if (
            self.min_duration_seconds is not None
            and self.max_duration_seconds is not None
            and self.max_duration_seconds < self.min_duration_seconds
        ):
            raise ValueError(f"evidence {self.key!r}: max_duration_seconds is below min_duration_seconds")
        if (self.min_duration_seconds or self.max_duration_seconds) and self.kind is not EvidenceKind.VIDEO:
            raise ValueError(f"evidence {self.key!r}: only video evidence has a duration")
        return self


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
    """Either every criterion (or each of ``criteria``) reaches ``level``, or the points reach ``points``."""

    kind: Literal["all_criteria_at_least", "minimum_total"]
    level: str | None = None
    points: int | None = Field(default=None, ge=0)
    criteria: tuple[str, ...] | None = Field(
        default=None, description="For all_criteria_at_least: only these criteria must reach the level."
    )

    @model_validator(mode="after")
    def _argument_matches_kind(self) -> PassingRule:
        if self.kind == "all_criteria_at_least" and not self.level:
            raise ValueError("all_criteria_at_least needs a level")
        if self.kind == "minimum_total" and self.points is None:
            raise ValueError("minimum_total needs points")
        if self.criteria is not None and self.kind != "all_criteria_at_least":
            raise ValueError("criteria narrows only an all_criteria_at_least rule")
        if self.criteria is not None and not self.criteria:
            raise ValueError("criteria, when given, must name at least one criterion (omit it to gate all)")
        return self


class Rubric(Contract):
    criteria: tuple[RubricCriterion, ...] = Field(min_length=1)
    passing_rule: PassingRule

    @model_validator(mode="after")
    def _passing_level_exists(self) -> Rubric:
        if len({c.key for c in self.criteria}) != len(self.criteria):
            raise ValueError("criterion keys must be unique")
        rule = self.passing_rule
        keys = {c.key for c in self.criteria}
        for missing in [key for key in rule.criteria or () if key not in keys]:
            raise ValueError(f"passing rule refers to criterion {missing!r}, which the rubric does not have")
        if rule.kind == "all_criteria_at_least":
            for criterion in self.gated_criteria():
                if criterion.level(rule.level or "") is None:
                    raise ValueError(
                        f"passing level {rule.level!r} is not a level of criterion {criterion.key!r}"
                    )
        if rule.kind == "minimum_total":
            reachable = sum(c.levels[-1].points for c in self.criteria)
            if (rule.points or 0) > reachable:
                raise ValueError(f"minimum_total {rule.points} is above the {reachable} points the rubric can give")
        return self

    def gated_criteria(self) -> tuple[RubricCriterion, ...]:
        """The criteria the all_criteria_at_least rule applies to."""
        wanted = self.passing_rule.criteria
        return self.criteria if wanted is None else tuple(c for c in self.criteria if c.key in wanted)

    def criterion(self, key: str) -> RubricCriterion | None:
        return next((c for c in self.criteria if c.key == key), None)


class Resource(Contract):
    title: str = Field(min_length=1)
    url: HttpUrl | None = None


class IssuerProfile(Contract):
    """The issuing organization as an Open Badges ``Profile`` will name it."""

    issuer_id: UUID
    name: str
    url: HttpUrl | None = None
    email: str | None = None
    description: str | None = None
    image_url: HttpUrl | None = None


class Alignment(Contract):
    """A standard or evaluation-framework element the credential aligns to (OB 3.0 ``Alignment``)."""

    target_name: str = Field(min_length=1)
    target_framework: str | None = None
    target_code: str | None = None
    target_url: HttpUrl | None = None
    target_description: str | None = None
    target_type: str | None = None


class CreditHint(Contract):
    """What the issuer suggests the credential is worth; each state decides in licensure."""

    unit: str = Field(min_length=1)
    amount: Decimal = Field(gt=0)
    note: str | None = None


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
    key: str | None = Field(default=None, description="The issuer's stable slug for this credential.")
    sponsor: str | None = None
    alignments: tuple[Alignment, ...] = ()
    credit_hints: tuple[CreditHint, ...] = ()
    expiry_months: int | None = Field(default=None, ge=1, description="Awards expire this long after issue.")
    image_url: HttpUrl | None = None
    max_attempts: int | None = Field(default=None, ge=1, description="Submissions a teacher gets; none = no limit.")
    calibration_size: int | None = Field(
        default=None, ge=0, description="First submissions of this version scored by two reviewers; none = review's default."
    )


class CredentialRetired(IntegrationEvent):
    """A version takes no new submissions; submissions already bound to it stay valid."""

    topic: ClassVar[str] = "catalog.credential-retired"
    key_field: ClassVar[str] = "credential_id"

    event_type: Literal["catalog.credential-retired"] = "catalog.credential-retired"
    event_version: Literal[1] = 1

    credential_id: UUID
    version: int = Field(ge=1)
    reason: str


class StackChanged(IntegrationEvent):
    """The whole current state of a stack (a themed group of credentials); ``active`` false = removed."""

    topic: ClassVar[str] = "catalog.stack-changed"
    key_field: ClassVar[str] = "stack_id"

    event_type: Literal["catalog.stack-changed"] = "catalog.stack-changed"
    event_version: Literal[1] = 1

    stack_id: UUID
    revision: int = Field(ge=1, description="Grows by one per change; a reader keeps the highest.")
    issuer_id: UUID
    name: str
    description: str
    credential_ids: tuple[UUID, ...]
    active: bool = True


class PathwayStep(Contract):
    credential_id: UUID
    prerequisites: tuple[UUID, ...] = Field(
        default=(), description="Credentials a teacher must have earned before starting this one."
    )


class PathwayChanged(IntegrationEvent):
    """The whole current state of a pathway: ordered steps, each with its prerequisites."""

    topic: ClassVar[str] = "catalog.pathway-changed"
    key_field: ClassVar[str] = "pathway_id"

    event_type: Literal["catalog.pathway-changed"] = "catalog.pathway-changed"
    event_version: Literal[1] = 1

    pathway_id: UUID
    revision: int = Field(ge=1, description="Grows by one per change; a reader keeps the highest.")
    issuer_id: UUID
    name: str
    description: str
    steps: tuple[PathwayStep, ...] = Field(min_length=1)
    active: bool = True
