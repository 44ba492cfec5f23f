"""Fakes with the same interface as the award unit of work, so use cases run without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.award.adapters.keys import KeyCipher
from microcred.award.domain.model import (
    Award,
    AwardStatus,
    Collection,
    CredentialVersion,
    PublicUrls,
    SigningKey,
    Standing,
    SubmittedAttempt,
)
from microcred.award.service_layer.signing import IssuingAuthority
from microcred.events import (
    CredentialPublished,
    CriterionResult,
    EvidenceRef,
    IssuerProfile,
    PassingRule,
    Resource,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SubmissionCriteria,
    SubmissionScored,
    SubmissionSubmitted,
)
from microcred.runtime.testing import FakeMessagingUnitOfWork

SALT = "test-identity-salt-0123456789"
KEY_ENCRYPTION_KEY = "dGVzdC1rZXktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM"  # base64url of 32 bytes
BASE_URL = "https://award.example"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


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
    def submitted(
        score: SubmissionScored, *, email: str | None = "Teacher.42@Schools.example", did: str | None = None
    ) -> SubmissionSubmitted:
        """The submitted attempt a score is about, as submission.submitted carried it."""
        return SubmissionSubmitted(
            correlation_id=score.correlation_id,
            states=score.states,
            submission_id=score.submission_id,
            attempt=score.attempt,
            credential_id=score.credential_id,
            credential_version=score.credential_version,
            teacher_id=score.teacher_id,
            evidence=(
                EvidenceRef(evidence_id=uuid4(), requirement_key="video", object_key="evidence/secret/lesson.mp4",
                            filename="lesson.mp4", content_type="video/mp4", size_bytes=1000, sha256="a" * 64,
                            duration_seconds=372.4),
            ),
            teacher_email=email,
            teacher_did=did,
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
        """No-op: the fake runs one use case at a time, so there is nothing to serialise."""

    async def get(self, credential_id: UUID, version: int) -> CredentialVersion | None:
        return self.rows.get((credential_id, version))

    async def add(self, credential: CredentialVersion) -> bool:
        key = (credential.credential_id, credential.version)
        if key in self.rows:
            return False
        self.rows[key] = credential
        return True

    async def issuer_profile(self, issuer_id: UUID) -> IssuerProfile | None:
        found = [c.issuer for c in self.rows.values() if c.issuer.issuer_id == issuer_id]
        return found[-1] if found else None


class FakeAwards:
    def __init__(self) -> None:
        self.rows: dict[UUID, Award] = {}

    async def lock_submission(self, submission_id: UUID) -> None:
        """No-op, as ``FakeCredentials.lock``."""

    async def add_once(self, award: Award) -> bool:
        if any(a.submission_id == award.submission_id for a in self.rows.values()):
            return False
        self.rows[award.award_id] = replace(award)
        return True

    async def add_collection_once(self, award: Award) -> bool:
        if await self.has_collection(award.teacher_id, award.kind, award.credential_id):
            return False
        self.rows[award.award_id] = replace(award)
        return True

    async def has_collection(self, teacher_id: str, kind: str, collection_id: UUID) -> bool:
        return any((a.teacher_id, a.kind, a.credential_id) == (teacher_id, kind, collection_id)
                   for a in self.rows.values())

    async def save(self, award: Award) -> None:
        self.rows[award.award_id] = replace(award)

    async def get(self, award_id: UUID) -> Award | None:
        return self.rows.get(award_id)

    async def get_for_update(self, award_id: UUID) -> Award | None:
        found = self.rows.get(award_id)
        return None if found is None else replace(found)

    def _held(self, teacher_id: str) -> list[Award]:
        return [replace(a) for a in self.rows.values()
                if a.teacher_id == teacher_id and a.kind == "micro_credential"
                and a.status is AwardStatus.ISSUED and a.standing is Standing.ACTIVE]

    async def held_by(self, teacher_id: str) -> list[Award]:
        return self._held(teacher_id)

    async def teachers_holding_all(self, credential_ids: tuple[UUID, ...]) -> list[str]:
        teachers = {a.teacher_id for a in self.rows.values()}
        return sorted(t for t in teachers if set(credential_ids) <= {a.credential_id for a in self._held(t)})

    async def pending_for(self, credential_id: UUID, version: int) -> list[Award]:
        return [
            replace(a) for a in self.rows.values()
            if (a.credential_id, a.credential_version) == (credential_id, version) and a.status is AwardStatus.PENDING
        ]

    async def pending_for_submission(self, submission_id: UUID) -> list[Award]:
        return [replace(a) for a in self.rows.values()
                if a.submission_id == submission_id and a.status is AwardStatus.PENDING]


class FakeAttempts:
    def __init__(self) -> None:
        self.rows: dict[tuple[UUID, int], SubmittedAttempt] = {}

    async def add(self, attempt: SubmittedAttempt) -> None:
        self.rows.setdefault((attempt.submission_id, attempt.attempt), attempt)

    async def get(self, submission_id: UUID, attempt: int) -> SubmittedAttempt | None:
        return self.rows.get((submission_id, attempt))


class FakeCollections:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, UUID], Collection] = {}

    async def keep_newest(self, collection: Collection) -> bool:
        known = self.rows.get((collection.kind, collection.collection_id))
        if known is not None and known.revision >= collection.revision:
            return False
        self.rows[(collection.kind, collection.collection_id)] = collection
        return True

    async def get(self, kind: str, collection_id: UUID) -> Collection | None:
        return self.rows.get((kind, collection_id))

    async def containing(self, credential_id: UUID) -> list[Collection]:
        return [c for c in self.rows.values() if c.active and credential_id in c.credential_ids]


class FakeKeys:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[SigningKey, bytes]] = {}

    async def lock_scope(self, scope: str) -> None:
        """No-op, as ``FakeCredentials.lock``."""

    async def active(self, scope: str) -> tuple[SigningKey, bytes] | None:
        return next(((k, sealed) for k, sealed in self.rows.values() if k.scope == scope and k.retired_at is None),
                    None)

    async def get(self, key_id: str) -> SigningKey | None:
        found = self.rows.get(key_id)
        return None if found is None else found[0]

    async def all_for(self, scope: str) -> list[SigningKey]:
        return [k for k, _ in self.rows.values() if k.scope == scope]

    async def add(self, key: SigningKey, sealed: bytes) -> None:
        self.rows[key.key_id] = (key, sealed)

    async def retire(self, key_id: str, at: datetime) -> None:
        key, sealed = self.rows[key_id]
        self.rows[key_id] = (replace(key, retired_at=at), sealed)


class FakeStatusLists:
    def __init__(self) -> None:
        self.rows: dict[tuple[UUID, str, int], tuple[bytes, dict[str, Any], datetime]] = {}
        self.allocations: dict[tuple[UUID, int, int], UUID] = {}

    async def newest_list(self, issuer_id: UUID) -> int | None:
        return max((n for i, _, n in self.rows if i == issuer_id), default=None)

    async def add(self, issuer_id: UUID, purpose: str, list_no: int, bits: bytes, document: dict[str, Any],
                  at: datetime) -> None:
        self.rows.setdefault((issuer_id, purpose, list_no), (bits, document, at))

    async def get(self, issuer_id: UUID, purpose: str, list_no: int, *, for_update: bool = False
                  ) -> tuple[bytes, dict[str, Any], datetime] | None:
        return self.rows.get((issuer_id, purpose, list_no))

    async def save(self, issuer_id: UUID, purpose: str, list_no: int, bits: bytes, document: dict[str, Any],
                   at: datetime) -> None:
        self.rows[(issuer_id, purpose, list_no)] = (bits, document, at)

    async def allocate(self, issuer_id: UUID, list_no: int, index: int, award_id: UUID) -> bool:
        if (issuer_id, list_no, index) in self.allocations:
            return False
        self.allocations[(issuer_id, list_no, index)] = award_id
        return True

    async def allocated(self, issuer_id: UUID, list_no: int) -> int:
        return sum(1 for i, n, _ in self.allocations if (i, n) == (issuer_id, list_no))


class FakeUnitOfWork(FakeMessagingUnitOfWork):
    """Commits are all-or-nothing like the real one: uncommitted claims and events are discarded."""

    def __init__(self) -> None:
        super().__init__()
        self.credentials = FakeCredentials()
        self.awards = FakeAwards()
        self.attempts = FakeAttempts()
        self.collections = FakeCollections()
        self.keys = FakeKeys()
        self.status_lists = FakeStatusLists()


@pytest.fixture
def uow() -> Any:
    return FakeUnitOfWork()


def make_authority(key_scope: str = "issuer") -> IssuingAuthority:
    return IssuingAuthority(urls=PublicUrls(BASE_URL), cipher=KeyCipher(KEY_ENCRYPTION_KEY), identity_secret=SALT,
                            key_scope=key_scope, clock=lambda: NOW)  # type: ignore[arg-type]


@pytest.fixture
def authority() -> IssuingAuthority:
    return make_authority()


@pytest.fixture
def operator_authority() -> IssuingAuthority:
    """One signing key for every issuer (``signing_key_scope="operator"``)."""
    return make_authority("operator")


@pytest.fixture
def build() -> type[Builders]:
    return Builders
