"""Fakes with the same interface as the award unit of work, so use cases run without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.award.domain.model import Award, AwardStatus, CredentialVersion
from microcred.events import (
    CredentialPublished,
    CriterionResult,
    IssuerProfile,
    PassingRule,
    Resource,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SubmissionCriteria,
    SubmissionScored,
)
from microcred.runtime.testing import FakeMessagingUnitOfWork

SALT = "test-identity-salt-0123456789"


class Builders:
    """Valid events and values for tests; each test overrides only what it is about."""

    salt = SALT

    @staticmethod
    def rubric() -> Rubric:
        levels = (
            RubricLevel(key="emerging", name="Emerging", points=1),
            RubricLevel(key="proficient", name="Proficient", points=2, descriptor="Consistent use"),
            RubricLevel(key="exemplary", name="Exemplary", points=3),
        )
        return Rubric(
            criteria=(
                RubricCriterion(key="planning", name="Planning", levels=levels),
                RubricCriterion(key="feedback", name="Student feedback", levels=levels),
            ),
            passing_rule=PassingRule(kind="all_criteria_at_least", level="proficient"),
        )


    @staticmethod
    def published(credential_id: UUID | None = None, version: int = 1, **overrides: Any) -> CredentialPublished:
        fields: dict[str, Any] = {
            "correlation_id": uuid4(),
            "credential_id": credential_id or uuid4(),
            "version": version,
            "issuer": IssuerProfile(issuer_id=uuid4(), name="Teaching Lab", url="https://lab.example.org"),
            "name": "Checking for Understanding",
            "description": "Uses quick checks to adjust instruction.",
            "competency": "The educator checks for understanding and adjusts instruction.",
            "key_method": "Exit tickets",
            "method_components": ("plan", "collect", "adjust"),
            "research": (Resource(title="Wiliam 2011"),),
            "submission_criteria": SubmissionCriteria.model_validate(
                {"items": [{"key": "video", "kind": "video", "title": "A lesson"}]}
            ),
            "rubric": Builders.rubric(),
        }
        return CredentialPublished(**(fields | overrides))


    @staticmethod
    def credential_of(event: CredentialPublished) -> CredentialVersion:
        return CredentialVersion.from_event(event)


    @staticmethod
    def results(planning: str = "exemplary", feedback: str = "proficient") -> tuple[CriterionResult, ...]:
        names = {"emerging": ("Emerging", 1), "proficient": ("Proficient", 2), "exemplary": ("Exemplary", 3)}
        return (
            CriterionResult(criterion_key="planning", criterion_name="Planning", level_key=planning,
                            level_name=names[planning][0], points=names[planning][1]),
            CriterionResult(criterion_key="feedback", criterion_name="Student feedback", level_key=feedback,
                            level_name=names[feedback][0], points=names[feedback][1]),
        )


    @staticmethod
    def scored(
        credential: CredentialPublished, *, decision: str = "passed", submission_id: UUID | None = None,
        teacher_id: str = "teacher-42",
    ) -> SubmissionScored:
        return SubmissionScored(
            correlation_id=uuid4(),
            states=("TN",),
            review_id=uuid4(),
            submission_id=submission_id or uuid4(),
            attempt=1,
            credential_id=credential.credential_id,
            credential_version=credential.version,
            teacher_id=teacher_id,
            decision=decision,  # type: ignore[arg-type]
            results=Builders.results(),
            total_points=5,
            scored_at=datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        )


class FakeCredentials:
    def __init__(self) -> None:
        self.rows: dict[tuple[UUID, int], CredentialVersion] = {}

    async def lock(self, credential_id: UUID, version: int) -> None:
        pass

    async def get(self, credential_id: UUID, version: int) -> CredentialVersion | None:
        return self.rows.get((credential_id, version))

    async def add(self, credential: CredentialVersion) -> bool:
        key = (credential.credential_id, credential.version)
        if key in self.rows:
            return False
        self.rows[key] = credential
        return True


class FakeAwards:
    def __init__(self) -> None:
        self.rows: dict[UUID, Award] = {}

    async def add_once(self, award: Award) -> bool:
        if any(a.submission_id == award.submission_id for a in self.rows.values()):
            return False
        self.rows[award.award_id] = replace(award)
        return True

    async def save(self, award: Award) -> None:
        self.rows[award.award_id] = replace(award)

    async def get(self, award_id: UUID) -> Award | None:
        return self.rows.get(award_id)

    async def pending_for(self, credential_id: UUID, version: int) -> list[Award]:
        return [
            replace(a) for a in self.rows.values()
            if (a.credential_id, a.credential_version) == (credential_id, version) and a.status is AwardStatus.PENDING
        ]


class FakeUnitOfWork(FakeMessagingUnitOfWork):
    """Commits are all-or-nothing like the real one: uncommitted claims and events are discarded."""

    def __init__(self) -> None:
        super().__init__()
        self.credentials = FakeCredentials()
        self.awards = FakeAwards()


@pytest.fixture
def uow() -> Any:
    return FakeUnitOfWork()


@pytest.fixture
def build() -> type[Builders]:
    return Builders
