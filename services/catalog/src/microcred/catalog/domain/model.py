"""Catalog rules: the approval workflow of credential versions, issuers and their staff, stacks, pathways.

Invariants that live here:
- A version moves draft -> in_review -> (changes_requested -> in_review)* -> approved -> published ->
  retired, and every move is recorded (from, to, actor, reason, at). Nothing else changes a status.
- Only draft and changes_requested versions can be edited; a published version never changes, so a
  submission bound to it is scored against exactly what the teacher saw.
- A credential has at most one open version (anything not yet published or retired) at a time.
- A pathway prerequisite is a credential of an earlier step, so the prerequisite graph is acyclic by
  construction and a teacher can always walk the pathway in order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Annotated
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from microcred.events import Alignment, CreditHint, IssuerProfile, Resource, Rubric, SubmissionCriteria
from microcred.runtime.api_types import INT32_MAX, Count, Matching, Ordinal, Text
from microcred.runtime.errors import Conflict, Forbidden, Invalid

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, Matching(SLUG_PATTERN), Field(min_length=1, max_length=80)]
#: Prose an author writes (a description, a competency, a research summary).
Prose = Annotated[Text, Field(min_length=1, max_length=50_000)]
Label = Annotated[Text, Field(min_length=1, max_length=300)]
#: Credit hints travel to licensure, whose amounts are numeric(12, 4).
AMOUNT_LIMIT = Decimal(10) ** 8


def slugify(text: str) -> str:
    """A key for people who did not give one: lower-case ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-") or "item"


# ---------------------------------------------------------------------------------------------------
# Credential versions


class VersionStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    PUBLISHED = "published"
    RETIRED = "retired"

    @property
    def is_open(self) -> bool:
        return self not in (VersionStatus.PUBLISHED, VersionStatus.RETIRED)

    @property
    def is_editable(self) -> bool:
        return self in (VersionStatus.DRAFT, VersionStatus.CHANGES_REQUESTED)


OPEN_STATUSES = tuple(s for s in VersionStatus if s.is_open)


class CredentialDefinition(BaseModel):
    """The six components the field uses (competency, key method, method components, research,
    submission criteria, rubric), plus what describes and situates the credential."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Label
    description: Prose
    competency: Prose
    key_method: Prose
    method_components: tuple[Prose, ...] = Field(min_length=1, max_length=100)
    research: tuple[Resource, ...] = Field(min_length=1, max_length=200)
    submission_criteria: SubmissionCriteria
    rubric: Rubric
    subjects: tuple[Label, ...] = Field(default=(), max_length=50)
    grade_bands: tuple[Label, ...] = Field(default=(), max_length=50)
    estimated_hours: float | None = Field(default=None, gt=0, le=10_000)
    sponsor: Annotated[Text, Field(max_length=300)] | None = None
    alignments: tuple[Alignment, ...] = Field(default=(), max_length=200)
    credit_hints: tuple[CreditHint, ...] = Field(default=(), max_length=60)
    expiry_months: Ordinal | None = None
    image_url: HttpUrl | None = None
    # Submissions a teacher gets at this version (the first counts); None = no limit. Rows stored
    # before the field existed read as None, so the JSONB document needs no migration.
    max_attempts: Ordinal | None = None
    # First submissions of this version scored by two reviewers; None = review's default setting.
    # Like max_attempts, rows stored before the field existed read as None.
    calibration_size: Count | None = None

    @model_validator(mode="after")
    def _numbers_fit_where_they_are_stored(self) -> CredentialDefinition:
        # The components are event contracts, published unchanged (their schemas cannot gain bounds), and
        # other services store some of their numbers in 32-bit columns: a rubric's points add up to a
        # review's total, a requirement's counts and durations become checks on evidence.
        problems = [f"{where} may be at most {INT32_MAX}" for where, value in self._bounded_numbers()
                    if value is not None and value > INT32_MAX]
        problems += [f"credit_hints[{i}].amount must fit numeric(12, 4)" for i, hint in enumerate(self.credit_hints)
                     if not hint.amount.is_finite() or abs(hint.amount) >= AMOUNT_LIMIT]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _bounded_numbers(self) -> list[tuple[str, int | None]]:
        found: list[tuple[str, int | None]] = [
            ("the rubric's total points", sum(max((lv.points for lv in c.levels), default=0)
                                               for c in self.rubric.criteria)),
            ("rubric.passing_rule.points", self.rubric.passing_rule.points),
        ]
        for i, item in enumerate(self.submission_criteria.items):
            found += [(f"submission_criteria.items[{i}].{name}", getattr(item, name))
                      for name in ("min_count", "max_count", "min_duration_seconds", "max_duration_seconds")]
        return found


@dataclass(frozen=True)
class Transition:
    version: int
    from_status: VersionStatus | None
    to_status: VersionStatus
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class ApprovalChecks:
    """What the catalog reviewer (an operator) confirms before a version may be published."""

    research_base: bool
    evidence_requirements: bool
    rubric: bool

    def failing(self) -> list[str]:
        return [name for name in ("research_base", "evidence_requirements", "rubric") if not getattr(self, name)]


@dataclass
class CredentialVersion:
    credential_id: UUID
    version: int
    issuer_id: UUID
    key: str
    definition: CredentialDefinition
    status: VersionStatus = VersionStatus.DRAFT
    transitions: list[Transition] = field(default_factory=list)
    created_at: datetime | None = None
    published_at: datetime | None = None
    retired_at: datetime | None = None

    def _move(self, to: VersionStatus, allowed_from: Sequence[VersionStatus], actor: str, reason: str | None,
              at: datetime) -> None:
        if self.status not in allowed_from:
            expected = " or ".join(s.value for s in allowed_from)
            raise Conflict(
                f"version {self.version} of credential {self.credential_id} is {self.status.value}; "
                f"it must be {expected} to become {to.value}",
                code="illegal_transition",
            )
        self.transitions.append(Transition(self.version, self.status, to, actor, reason, at))
        self.status = to

    def edit(self, definition: CredentialDefinition) -> None:
        if not self.status.is_editable:
            raise Conflict(
                f"version {self.version} of credential {self.credential_id} is {self.status.value}; only a draft "
                "or a version with changes requested can be edited (open a new version to change a published one)",
                code="version_not_editable",
            )
        self.definition = definition

    def submit_for_review(self, actor: str, note: str | None, at: datetime) -> None:
        self._move(VersionStatus.IN_REVIEW, (VersionStatus.DRAFT, VersionStatus.CHANGES_REQUESTED), actor, note, at)

    def request_changes(self, actor: str, reason: str, at: datetime) -> None:
        if not reason.strip():
            raise Invalid("say what must change", code="reason_required")
        self._move(VersionStatus.CHANGES_REQUESTED, (VersionStatus.IN_REVIEW,), actor, reason, at)

    def approve(self, actor: str, checks: ApprovalChecks, note: str | None, at: datetime) -> None:
        failing = checks.failing()
        if failing:
            raise Invalid(
                f"approval needs every check confirmed; not confirmed: {', '.join(failing)}",
                code="checks_incomplete",
                details={"failing": failing},
            )
        self._move(VersionStatus.APPROVED, (VersionStatus.IN_REVIEW,), actor, note, at)

    def publish(self, actor: str, at: datetime, reason: str | None = None) -> None:
        if self.status is not VersionStatus.APPROVED:
            raise Conflict(
                f"version {self.version} of credential {self.credential_id} is {self.status.value}; "
                "only an approved version can be published",
                code="not_approved",
            )
        self._move(VersionStatus.PUBLISHED, (VersionStatus.APPROVED,), actor, reason, at)
        self.published_at = at

    def retire(self, actor: str, reason: str, at: datetime) -> None:
        if not reason.strip():
            raise Invalid("say why the version is retired", code="reason_required")
        if self.status is not VersionStatus.PUBLISHED:
            raise Conflict(
                f"version {self.version} of credential {self.credential_id} is {self.status.value}; "
                "only a published version can be retired",
                code="not_published",
            )
        self._move(VersionStatus.RETIRED, (VersionStatus.PUBLISHED,), actor, reason, at)
        self.retired_at = at

    def publish_as_imported(self, actor: str, at: datetime) -> None:
        """An operator's catalog import is the approval: draft -> approved -> published, reason "imported"."""
        self._move(VersionStatus.APPROVED, (VersionStatus.DRAFT,), actor, "imported", at)
        self.publish(actor, at, reason="imported")


@dataclass
class Credential:
    """All versions of one credential: the aggregate that enforces "one open version at a time"."""

    credential_id: UUID
    issuer_id: UUID
    key: str
    versions: list[CredentialVersion] = field(default_factory=list)

    @classmethod
    def draft(cls, credential_id: UUID, issuer_id: UUID, key: str, definition: CredentialDefinition, actor: str,
              at: datetime, reason: str | None = None) -> Credential:
        credential = cls(credential_id, issuer_id, key)
        credential._add_draft(definition, actor, at, reason)
        return credential

    def _add_draft(self, definition: CredentialDefinition, actor: str, at: datetime,
                   reason: str | None) -> CredentialVersion:
        number = max((v.version for v in self.versions), default=0) + 1
        version = CredentialVersion(self.credential_id, number, self.issuer_id, self.key, definition, created_at=at)
        version.transitions.append(Transition(number, None, VersionStatus.DRAFT, actor, reason, at))
        self.versions.append(version)
        return version

    def version(self, number: int | None = None) -> CredentialVersion | None:
        if number is None:
            return self.latest()
        return next((v for v in self.versions if v.version == number), None)

    def latest(self) -> CredentialVersion:
        return max(self.versions, key=lambda v: v.version)

    def latest_published(self) -> CredentialVersion | None:
        published = [v for v in self.versions if v.status is VersionStatus.PUBLISHED]
        return max(published, key=lambda v: v.version, default=None)

    def open_version(self) -> CredentialVersion | None:
        return next((v for v in self.versions if v.status.is_open), None)

    def open_new_version(self, actor: str, at: datetime, definition: CredentialDefinition | None = None,
                         reason: str | None = None) -> CredentialVersion:
        """A new draft, copied from the latest published version unless a definition is given."""
        if (open_version := self.open_version()) is not None:
            raise Conflict(
                f"credential {self.credential_id} already has an open version {open_version.version} "
                f"({open_version.status.value}); finish or continue that one",
                code="open_version_exists",
            )
        if definition is None:
            source = self.latest_published()
            if source is None:
                raise Conflict(f"credential {self.credential_id} has no published version to copy",
                               code="nothing_published")
            definition = source.definition
        return self._add_draft(definition, actor, at, reason)

    def history(self, number: int) -> list[Transition]:
        version = self.version(number)
        return [] if version is None else list(version.transitions)


# ---------------------------------------------------------------------------------------------------
# Issuers, staff and who may do what


class StaffRole(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"


class Authority(IntEnum):
    """What a person may do for one issuer; each level includes those below it."""

    NONE = 0
    EDITOR = 1  # edit drafts
    ADMIN = 2  # also submit for review, publish, retire, manage stacks, pathways, profile and staff
    OPERATOR = 3  # also approve and request changes


@dataclass(frozen=True)
class Actor:
    """The caller as the rules need it (the service layer builds it from the verified token)."""

    subject: str
    operator: bool = False
    issuer_admin: bool = False
    organization: str | None = None


@dataclass
class Issuer:
    issuer_id: UUID
    key: str
    name: str
    url: str | None = None
    email: str | None = None
    description: str = ""
    image_url: str | None = None
    staff: dict[str, StaffRole] = field(default_factory=dict)

    def authority_of(self, actor: Actor) -> Authority:
        if actor.operator:
            return Authority.OPERATOR
        if not actor.issuer_admin:
            return Authority.NONE
        role = self.staff.get(actor.subject)
        if actor.organization == str(self.issuer_id) or role is StaffRole.ADMIN:
            return Authority.ADMIN
        if role is StaffRole.EDITOR:
            return Authority.EDITOR
        return Authority.NONE

    def require(self, actor: Actor, needed: Authority, action: str) -> None:
        if self.authority_of(actor) < needed:
            who = {Authority.EDITOR: f"the staff of issuer {self.name!r} (or an operator)",
                   Authority.ADMIN: f"an admin of issuer {self.name!r} (or an operator)",
                   Authority.OPERATOR: "an operator"}[needed]
            raise Forbidden(f"only {who} may {action}")

    def profile(self) -> IssuerProfile:
        return IssuerProfile.model_validate({
            "issuer_id": self.issuer_id, "name": self.name, "url": self.url, "email": self.email,
            "description": self.description or None, "image_url": self.image_url,
        })


# ---------------------------------------------------------------------------------------------------
# Stacks and pathways


class Revisioned:
    """A catalog object published as whole snapshots: each real change bumps ``revision`` exactly once,
    so a reader keeps the highest revision it has seen and ignores late or repeated ones."""

    revision: int
    active: bool

    def deactivate(self) -> bool:
        if not self.active:
            return False
        self.active = False
        self.revision += 1
        return True


#: Fixed for good: stack and pathway ids are derived under it, so changing it would rename every one.
CATALOG_ID_NAMESPACE = UUID("6f1d1c52-8a7e-4b8e-9a43-3f2b7d0c5e91")


def stack_id_for(issuer_key: str, key: str) -> UUID:
    """A stack's id from its issuer's key and its own key (both never change).

    Derived rather than random so that whatever names a stack from outside the catalog (a licensure
    program file, a state's rule) names the same stack in every installation that imports the same
    catalog document. (issuer, key) is unique, deleted stacks included, so a derived id is never reused.
    """
    return uuid5(CATALOG_ID_NAMESPACE, f"stack:{issuer_key}/{key}")


def pathway_id_for(issuer_key: str, key: str) -> UUID:
    """A pathway's id, derived like a stack's (a different prefix: a stack and a pathway may share a key)."""
    return uuid5(CATALOG_ID_NAMESPACE, f"pathway:{issuer_key}/{key}")


@dataclass
class Stack(Revisioned):
    """A themed group of credentials. Every change bumps ``revision`` so readers keep the newest."""

    stack_id: UUID
    issuer_id: UUID
    key: str
    name: str
    description: str
    credential_ids: tuple[UUID, ...]
    revision: int = 1
    active: bool = True

    def __post_init__(self) -> None:
        _refuse_duplicates(self.credential_ids, "a stack lists each credential once")

    def revise(self, name: str, description: str, credential_ids: Sequence[UUID]) -> bool:
        """Apply the new state; False (and no new revision) if nothing changed."""
        _refuse_duplicates(credential_ids, "a stack lists each credential once")
        new = (name, description, tuple(credential_ids), True)
        if new == (self.name, self.description, self.credential_ids, self.active):
            return False
        self.name, self.description, self.credential_ids, self.active = new
        self.revision += 1
        return True



@dataclass(frozen=True)
class Step:
    credential_id: UUID
    prerequisites: tuple[UUID, ...] = ()


def step_order_problems(steps: Sequence[tuple[Hashable, Sequence[Hashable]]]) -> list[tuple[int, str]]:
    """Everything wrong with an ordered list of (credential, prerequisites), as (step index, message).

    Works on any credential reference (ids in the API, keys in a catalog document).
    """
    problems: list[tuple[int, str]] = []
    if not steps:
        return [(-1, "a pathway needs at least one step")]
    earlier: set[Hashable] = set()
    for index, (credential, prerequisites) in enumerate(steps):
        if credential in earlier:
            problems.append((index, f"credential {credential} is already an earlier step"))
        if len(set(prerequisites)) != len(prerequisites):
            problems.append((index, "a prerequisite is listed twice"))
        for prerequisite in prerequisites:
            if prerequisite == credential:
                problems.append((index, f"credential {prerequisite} cannot be its own prerequisite"))
            elif prerequisite not in earlier:
                problems.append((
                    index,
                    f"prerequisite {prerequisite} is not a credential of an earlier step; a prerequisite must "
                    "be an earlier step of the same pathway",
                ))
        earlier.add(credential)
    return problems


def check_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    problems = step_order_problems([(step.credential_id, step.prerequisites) for step in steps])
    if problems:
        raise Invalid(
            "; ".join(f"steps[{i}]: {m}" if i >= 0 else m for i, m in problems),
            code="invalid_pathway",
            details=[{"location": f"steps[{i}]" if i >= 0 else "steps", "message": m} for i, m in problems],
        )
    return tuple(steps)


@dataclass
class Pathway(Revisioned):
    """An ordered sequence of credentials; each step names the credentials to earn before starting it."""

    pathway_id: UUID
    issuer_id: UUID
    key: str
    name: str
    description: str
    steps: tuple[Step, ...]
    revision: int = 1
    active: bool = True

    def __post_init__(self) -> None:
        self.steps = check_steps(self.steps)

    def credential_ids(self) -> set[UUID]:
        return {step.credential_id for step in self.steps}

    def revise(self, name: str, description: str, steps: Sequence[Step]) -> bool:
        new = (name, description, check_steps(steps), True)
        if new == (self.name, self.description, self.steps, self.active):
            return False
        self.name, self.description, self.steps, self.active = new
        self.revision += 1
        return True



def _refuse_duplicates(ids: Sequence[UUID], message: str) -> None:
    if len(set(ids)) != len(ids):
        raise Invalid(message, code="duplicate_credential")
