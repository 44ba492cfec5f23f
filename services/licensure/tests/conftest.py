"""Fakes with the same interface as the licensure unit of work, so use cases run without a database."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.events import CredentialAwarded, CredentialPublished, IssuerProfile, Resource, SubmissionCriteria
from microcred.licensure.domain.model import AwardRecord, CredentialVersion, LedgerEntry, License, RuleSet
from microcred.runtime.testing import FakeMessagingUnitOfWork

TN = RuleSet(
    rule_set_id="TN-2024", state="TN", version=1, effective_from=date(2024, 1, 1), unit="points",
    amount_per_credential=Decimal("6"), required_per_cycle=Decimal("60"), source_note="example",
)
UT = RuleSet(
    rule_set_id="UT-2024", state="UT", version=1, effective_from=date(2024, 1, 1), unit="points",
    amount_per_credential=Decimal("7.5"), required_per_cycle=Decimal("200"), source_note="example",
)


class Builders:
    tn = TN
    ut = UT

    @staticmethod
    def license(
        teacher_id: str = "teacher-42", state: str = "TN", cycle_start: date = date(2024, 7, 1),
        cycle_end: date = date(2029, 6, 30), license_number: str | None = None,
    ) -> License:
        return License(
            license_id=uuid4(), teacher_id=teacher_id, state=state,
            license_number=license_number or uuid4().hex[:8], license_type="Professional",
            cycle_start=cycle_start, cycle_end=cycle_end,
        )

    @staticmethod
    def awarded(
        teacher_id: str = "teacher-42", issued_at: datetime = datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        credential: CredentialPublished | None = None,
    ) -> CredentialAwarded:
        return CredentialAwarded(
            correlation_id=uuid4(), states=("TN",), award_id=uuid4(), submission_id=uuid4(),
            credential_id=uuid4() if credential is None else credential.credential_id,
            credential_version=1 if credential is None else credential.version,
            credential_name="Checking for Understanding",
            issuer_id=uuid4(), teacher_id=teacher_id, issued_at=issued_at, credential={"id": "urn:uuid:x"},
        )

    @staticmethod
    def published(version: int = 1, **overrides: Any) -> CredentialPublished:
        fields: dict[str, Any] = {
            "correlation_id": uuid4(),
            "credential_id": uuid4(),
            "version": version,
            "issuer": IssuerProfile(issuer_id=uuid4(), name="Teaching Lab"),
            "name": "Checking for Understanding (catalog)",
            "description": "Uses quick checks to adjust instruction.",
            "competency": "The educator checks for understanding and adjusts instruction.",
            "key_method": "Exit tickets",
            "method_components": ("plan", "collect", "adjust"),
            "research": (Resource(title="Wiliam 2011"),),
            "submission_criteria": SubmissionCriteria.model_validate(
                {"items": [{"key": "video", "kind": "video", "title": "A lesson"}]}
            ),
            "rubric": {
                "criteria": [{"key": "planning", "name": "Planning", "levels": [
                    {"key": "emerging", "name": "Emerging", "points": 1},
                    {"key": "proficient", "name": "Proficient", "points": 2},
                ]}],
                "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
            },
            "credit_hints": [{"unit": "hours", "amount": "15", "note": "suggested PD hours"}],
        }
        return CredentialPublished.model_validate(fields | overrides)

    @staticmethod
    def award(
        teacher_id: str = "teacher-42", issued_at: datetime = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
    ) -> AwardRecord:
        return AwardRecord(
            award_id=uuid4(), teacher_id=teacher_id, credential_id=uuid4(), credential_version=1,
            credential_name="C", issued_at=issued_at,
        )


class FakeRuleSets:
    def __init__(self, rule_sets: Sequence[RuleSet]) -> None:
        self.rows = list(rule_sets)

    async def of_state(self, state: str) -> list[RuleSet]:
        return [r for r in self.rows if r.state == state]


class FakeLicenses:
    def __init__(self) -> None:
        self.rows: dict[UUID, License] = {}

    async def lock_teacher(self, teacher_id: str) -> None:
        """Nothing to lock: the fakes run one use case at a time."""

    async def add_once(self, license: License) -> bool:
        if any((x.state, x.license_number) == (license.state, license.license_number) for x in self.rows.values()):
            return False
        self.rows[license.license_id] = license
        return True

    async def get(self, license_id: UUID) -> License | None:
        return self.rows.get(license_id)

    async def of_teacher(self, teacher_id: str) -> list[License]:
        return [x for x in self.rows.values() if x.teacher_id == teacher_id]


class FakeAwards:
    def __init__(self) -> None:
        self.rows: dict[UUID, AwardRecord] = {}

    async def add(self, award: AwardRecord) -> None:
        self.rows.setdefault(award.award_id, award)

    async def of_teacher(self, teacher_id: str) -> list[AwardRecord]:
        return [a for a in self.rows.values() if a.teacher_id == teacher_id]

    async def of_ids(self, award_ids: Collection[UUID]) -> list[AwardRecord]:
        return [a for a in self.rows.values() if a.award_id in award_ids]


class FakeCredentials:
    def __init__(self) -> None:
        self.rows: dict[tuple[UUID, int], CredentialVersion] = {}
        self.upserts = 0

    async def upsert(self, credential: CredentialVersion) -> None:
        self.upserts += 1
        self.rows[(credential.credential_id, credential.version)] = credential

    async def of_keys(self, keys: Collection[tuple[UUID, int]]) -> list[CredentialVersion]:
        return [c for key, c in self.rows.items() if key in keys]


class FakeLedger:
    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    async def append_once(self, entry: LedgerEntry) -> bool:
        key = (entry.award_id, entry.license_id, entry.kind)
        if any((e.award_id, e.license_id, e.kind) == key for e in self.entries):
            return False
        self.entries.append(entry)
        return True

    async def of_license(self, license_id: UUID) -> list[LedgerEntry]:
        return [e for e in self.entries if e.license_id == license_id]


class FakeUnitOfWork(FakeMessagingUnitOfWork):
    """Claims and events only count once committed, like the real unit of work."""

    def __init__(self, rule_sets: Sequence[RuleSet] = (TN, UT)) -> None:
        super().__init__()
        self.rule_sets = FakeRuleSets(rule_sets)
        self.licenses = FakeLicenses()
        self.awards = FakeAwards()
        self.credentials = FakeCredentials()
        self.ledger = FakeLedger()


@pytest.fixture
def uow() -> Any:
    return FakeUnitOfWork()


@pytest.fixture
def build() -> type[Builders]:
    return Builders
