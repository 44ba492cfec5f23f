"""Fakes with the same interface as the licensure unit of work, so use cases run without a database."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.events import (
    CredentialAwarded,
    CredentialPublished,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    IssuerProfile,
    Resource,
    StateFeedRecord,
    SubmissionCriteria,
)
from microcred.licensure.adapters.metrics import LicensureMetrics
from microcred.licensure.adapters.recognition_repository import StoredEntry
from microcred.licensure.domain.model import (
    AwardRecord,
    ClaimStatus,
    CredentialVersion,
    CreditClaim,
    EntryKind,
    LedgerEntry,
    License,
    RuleSet,
    StatusChange,
)
from microcred.licensure.domain.recognition import Memberships, RecognitionEntry
from microcred.licensure.domain.recognition.standing import DatedEntry
from microcred.licensure.domain.reports import Holding
from microcred.licensure.domain.webhooks import Subscription, receives
from microcred.runtime.testing import FakeMessagingUnitOfWork

TN = RuleSet(
    rule_set_id="TN-2024", state="TN", version=1, effective_from=date(2024, 1, 1), unit="points",
    amount_per_credential=Decimal("6"), required_per_cycle=Decimal("60"), source_note="example",
)
UT = RuleSet(
    rule_set_id="UT-2024", state="UT", version=1, effective_from=date(2024, 1, 1), unit="points",
    amount_per_credential=Decimal("7.5"), required_per_cycle=Decimal("200"), source_note="example",
)
# The three kinds of rules the shipped examples show: points with a cap, fractional credits, district approval.
TN_CAPPED = RuleSet(
    rule_set_id="TN-2024", state="TN", version=2, effective_from=date(2024, 1, 1), unit="points",
    amount_per_credential=Decimal("6"), required_per_cycle=Decimal("60"), cap_per_cycle=Decimal("15"),
)
UT_CREDITS = RuleSet(
    rule_set_id="UT-2024", state="UT", version=2, effective_from=date(2025, 1, 1), unit="credits",
    amount_per_credential=Decimal("0.5"), required_per_cycle=Decimal("6"), on_expiry="reverse",
)
AR_APPROVAL = RuleSet(
    rule_set_id="AR-2024", state="AR", version=2, effective_from=date(2024, 1, 1), unit="hours",
    amount_per_credential=Decimal("15"), required_per_cycle=Decimal("36"), requires_district_approval=True,
)


class Builders:
    tn = TN
    ut = UT
    tn_capped = TN_CAPPED
    ut_credits = UT_CREDITS
    ar_approval = AR_APPROVAL

    @staticmethod
    def license(
        teacher_id: str = "teacher-42", state: str = "TN", cycle_start: date = date(2024, 7, 1),
        cycle_end: date = date(2029, 6, 30), license_number: str | None = None, district: str | None = None,
        growth_plan: tuple[UUID, ...] = (),
    ) -> License:
        return License(
            license_id=uuid4(), teacher_id=teacher_id, state=state,
            license_number=license_number or uuid4().hex[:8], license_type="Professional",
            cycle_start=cycle_start, cycle_end=cycle_end, district=district, growth_plan=growth_plan,
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
        teacher_id: str = "teacher-42", issued_at: datetime = datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        credential_id: UUID | None = None, issuer_id: UUID | None = None,
    ) -> AwardRecord:
        return AwardRecord(
            award_id=uuid4(), teacher_id=teacher_id, credential_id=credential_id or uuid4(), credential_version=1,
            credential_name="C", issued_at=issued_at, issuer_id=issuer_id,
        )

    @staticmethod
    def revoked(awarded: CredentialAwarded, reason: str = "plagiarised evidence") -> CredentialRevoked:
        return CredentialRevoked(
            correlation_id=uuid4(), states=("TN",), award_id=awarded.award_id, achievement_id=awarded.credential_id,
            issuer_id=awarded.issuer_id, teacher_id=awarded.teacher_id, reason=reason,
            changed_at=datetime(2025, 6, 1, tzinfo=UTC), changed_by="admin-1",
        )

    @staticmethod
    def suspended(awarded: CredentialAwarded, reason: str = "evidence under review",
                  changed_at: datetime = datetime(2025, 5, 1, tzinfo=UTC)) -> CredentialSuspended:
        return CredentialSuspended(
            correlation_id=uuid4(), states=("TN",), award_id=awarded.award_id, achievement_id=awarded.credential_id,
            issuer_id=awarded.issuer_id, teacher_id=awarded.teacher_id, reason=reason, changed_at=changed_at,
            changed_by="admin-1",
        )

    @staticmethod
    def reinstated(awarded: CredentialAwarded, reason: str = "review cleared the evidence",
                   changed_at: datetime = datetime(2025, 5, 20, tzinfo=UTC)) -> CredentialReinstated:
        return CredentialReinstated(
            correlation_id=uuid4(), states=("TN",), award_id=awarded.award_id, achievement_id=awarded.credential_id,
            issuer_id=awarded.issuer_id, teacher_id=awarded.teacher_id, reason=reason, changed_at=changed_at,
            changed_by="admin-2",
        )


class FakeRuleSets:
    def __init__(self, rule_sets: Sequence[RuleSet]) -> None:
        self.rows = list(rule_sets)

    async def of_state(self, state: str) -> list[RuleSet]:
        return [r for r in self.rows if r.state == state]

    async def all(self) -> list[RuleSet]:
        return list(self.rows)

    async def get(self, rule_set_id: str, version: int) -> RuleSet | None:
        return next((r for r in self.rows if (r.rule_set_id, r.version) == (rule_set_id, version)), None)

    async def latest_version(self, rule_set_id: str) -> int | None:
        return max((r.version for r in self.rows if r.rule_set_id == rule_set_id), default=None)

    async def lock(self, rule_set_id: str) -> None:
        """Nothing to lock: the fakes run one use case at a time."""

    async def add_once(self, rule_set: RuleSet, published_by: str | None = None) -> bool:
        if await self.get(rule_set.rule_set_id, rule_set.version) is not None:
            return False
        self.rows.append(rule_set)
        return True


class FakeLicenses:
    def __init__(self) -> None:
        self.rows: dict[UUID, License] = {}

    async def lock_teacher(self, teacher_id: str) -> None:
        """Nothing to lock: the fakes run one use case at a time."""

    async def add_once(self, license: License) -> bool:
        key = (license.teacher_id, license.state, license.license_number)
        if any((x.teacher_id, x.state, x.license_number) == key for x in self.rows.values()):
            return False
        self.rows[license.license_id] = license
        return True

    async def get(self, license_id: UUID) -> License | None:
        return self.rows.get(license_id)

    async def of_teacher(self, teacher_id: str) -> list[License]:
        return [x for x in self.rows.values() if x.teacher_id == teacher_id]

    async def set_growth_plan(self, license_id: UUID, credential_ids: Sequence[UUID]) -> None:
        self.rows[license_id] = replace(self.rows[license_id], growth_plan=tuple(credential_ids))


class FakeAwards:
    def __init__(self) -> None:
        self.rows: dict[UUID, AwardRecord] = {}
        self.revoked: dict[UUID, str] = {}
        self.changes: list[StatusChange] = []

    async def add(self, award: AwardRecord) -> bool:
        return self.rows.setdefault(award.award_id, award) is award

    async def get(self, award_id: UUID) -> AwardRecord | None:
        return self.rows.get(award_id)

    async def of_teacher(self, teacher_id: str) -> list[AwardRecord]:
        return [a for a in self.rows.values() if a.teacher_id == teacher_id]

    async def of_ids(self, award_ids: Collection[UUID]) -> list[AwardRecord]:
        return [a for a in self.rows.values() if a.award_id in award_ids]

    async def record_revocation(self, award_id: UUID, reason: str, at: datetime) -> bool:
        if award_id in self.revoked:
            return False
        self.revoked[award_id] = reason
        return True

    async def is_revoked(self, award_id: UUID) -> bool:
        return award_id in self.revoked

    async def record_status_change(self, change: StatusChange) -> bool:
        key = (change.award_id, change.status, change.changed_at)
        if any((c.award_id, c.status, c.changed_at) == key for c in self.changes):
            return False
        self.changes.append(change)
        return True

    async def status_changes(self, award_id: UUID) -> list[StatusChange]:
        return sorted((c for c in self.changes if c.award_id == award_id), key=lambda c: c.changed_at)

    async def status_changes_of(self, award_ids: Collection[UUID]) -> dict[UUID, list[StatusChange]]:
        return {award_id: await self.status_changes(award_id) for award_id in award_ids}


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
        if entry.award_id is not None and any((e.award_id, e.license_id, e.kind) == key for e in self.entries):
            return False
        self.entries.append(entry)
        return True

    async def of_license(self, license_id: UUID) -> list[LedgerEntry]:
        return [e for e in self.entries if e.license_id == license_id]

    async def credit_of(self, award_id: UUID, license_id: UUID) -> LedgerEntry | None:
        return next((e for e in self.entries if (e.award_id, e.license_id, e.kind)
                     == (award_id, license_id, EntryKind.CREDIT)), None)

    licenses: FakeLicenses | None = None  # set by FakeUnitOfWork: the report names each entry's license

    async def report(self, state: str, start: date, end: date, district: str | None = None) -> list[dict[str, Any]]:
        assert self.licenses is not None
        rows = []
        for entry in self.entries:
            license = self.licenses.rows[entry.license_id]
            posted = (entry.posted_at or datetime.now(UTC)).date()
            if license.state == state and district in (None, license.district) and start <= posted <= end:
                rows.append({"entry": entry, "license_number": license.license_number, "district": license.district,
                             "credential_id": None, "credential_name": None, "issuer_id": None})
        return rows


class FakeClaims:
    def __init__(self, awards: FakeAwards) -> None:
        self.rows: dict[tuple[UUID, UUID], CreditClaim] = {}
        self.awards = awards
        self.expiry_announced: set[tuple[UUID, UUID]] = set()

    async def expired_unannounced(self, now: datetime, limit: int) -> list[CreditClaim]:
        def expired(award_id: UUID) -> bool:
            award = self.awards.rows.get(award_id)
            return award is not None and award.valid_until is not None and award.valid_until <= now
        return [replace(c) for key, c in self.rows.items() if expired(c.award_id)
                and key not in self.expiry_announced and c.award_id not in self.awards.revoked][:limit]

    async def mark_expiry_announced(self, award_id: UUID, license_id: UUID, at: datetime) -> bool:
        if (award_id, license_id) in self.expiry_announced:
            return False
        self.expiry_announced.add((award_id, license_id))
        return True

    async def add_once(self, claim: CreditClaim) -> bool:
        if (claim.award_id, claim.license_id) in self.rows:
            return False
        self.rows[(claim.award_id, claim.license_id)] = replace(claim)
        return True

    async def save(self, claim: CreditClaim) -> None:
        self.rows[(claim.award_id, claim.license_id)] = replace(claim)

    async def get(self, award_id: UUID, license_id: UUID, *, for_update: bool = False) -> CreditClaim | None:
        found = self.rows.get((award_id, license_id))
        return None if found is None else replace(found)

    async def of_award(self, award_id: UUID) -> list[CreditClaim]:
        return [replace(c) for (a, _), c in self.rows.items() if a == award_id]

    async def of_license(self, license_id: UUID) -> list[CreditClaim]:
        return [replace(c) for (_, lic), c in self.rows.items() if lic == license_id]

    async def pending(self, state: str, district: str | None, limit: int, offset: int) -> list[CreditClaim]:
        return [replace(c) for c in self.rows.values() if c.status is ClaimStatus.PENDING_APPROVAL]


class FakeApprovals:
    def __init__(self) -> None:
        self.rows: set[tuple[str, UUID]] = set()

    async def approve(self, state: str, credential_id: UUID, by: str) -> bool:
        added = (state, credential_id) not in self.rows
        self.rows.add((state, credential_id))
        return added

    async def of_state(self, state: str) -> set[UUID]:
        return {c for s, c in self.rows if s == state}


class FakeWebhooks:
    """Records what would be queued for the states' webhook subscribers; with ``subscriptions``, which of them
    each record is queued for (domain.webhooks.receives, as the repository's query does)."""

    def __init__(self) -> None:
        self.records: list[StateFeedRecord] = []
        self.subscriptions: list[Subscription] = []
        self.deliveries: list[tuple[UUID, StateFeedRecord]] = []

    async def enqueue(self, record: StateFeedRecord) -> int:
        self.records.append(record)
        receiving = [s.subscription_id for s in self.subscriptions if receives(s, record)]
        self.deliveries += [(subscription_id, record) for subscription_id in receiving]
        return len(receiving)


class FakeReports:
    """The report reads over the other fakes' rows, held meaning what domain.reports says."""

    def __init__(self, licenses: FakeLicenses, awards: FakeAwards, credentials: FakeCredentials) -> None:
        self.licenses, self.awards, self.credentials = licenses, awards, credentials

    def _in_scope(self, state: str, district: str | None) -> list[License]:
        return [x for x in self.licenses.rows.values() if x.state == state and district in (None, x.district)]

    async def licensed_teachers(self, state: str, district: str | None) -> dict[str | None, int]:
        teachers: dict[str | None, set[str]] = {}
        for license in self._in_scope(state, district):
            teachers.setdefault(license.district, set()).add(license.teacher_id)
        return {d: len(t) for d, t in teachers.items()}

    async def holdings(self, state: str, district: str | None, now: datetime) -> list[Holding]:
        found: set[Holding] = set()
        for license in self._in_scope(state, district):
            for award in await self.awards.of_teacher(license.teacher_id):
                changes = await self.awards.status_changes(award.award_id)
                if (award.award_id in self.awards.revoked or (award.valid_until and award.valid_until <= now)
                        or (changes and changes[-1].status == "suspended")):
                    continue
                version = self.credentials.rows.get((award.credential_id, award.credential_version))
                found.add(Holding(license.district, award.teacher_id, award.credential_name,
                                  None if version is None else version.competency))
        return sorted(found, key=repr)


class FakeRecognitions:
    def __init__(self) -> None:
        self.rows: list[StoredEntry] = []
        self.made_at: list[datetime] = []

    async def append(self, stored: StoredEntry) -> None:
        self.rows.append(stored)
        self.made_at.append(datetime.now(UTC))

    async def awaiting_decision(self, state: str, district: str | None) -> list[tuple[StoredEntry, datetime]]:
        asked = {(r.teacher_id, r.entry.program_id) for r in self.rows
                 if r.entry.pending and r.state == state and district in (None, r.district)}
        return [(r, at) for r, at in zip(self.rows, self.made_at, strict=True)
                if (r.teacher_id, r.entry.program_id) in asked]

    async def of_teacher(self, teacher_id: str) -> list[RecognitionEntry]:
        return [r.entry for r in self.rows if r.teacher_id == teacher_id]


class FakeMemberships:
    def __init__(self, awards: FakeAwards) -> None:
        self.rows: dict[tuple[str, UUID], tuple[int, bool, frozenset[UUID]]] = {}
        self.awards = awards

    async def apply(self, kind: str, collection_id: UUID, revision: int, active: bool,
                    credential_ids: Collection[UUID]) -> frozenset[UUID] | None:
        before = self.rows.get((kind, collection_id))
        if before is not None and before[0] >= revision:
            return None
        self.rows[(kind, collection_id)] = (revision, active, frozenset(credential_ids))
        return frozenset() if before is None or not before[1] else before[2]

    async def current(self) -> Memberships:
        active = {key: members for key, (_, on, members) in self.rows.items() if on}
        return Memberships(stacks={i: m for (k, i), m in active.items() if k == "stack"},
                           pathways={i: m for (k, i), m in active.items() if k == "pathway"})

    async def teachers_holding(self, credential_ids: Collection[UUID]) -> list[str]:
        return sorted({a.teacher_id for a in self.awards.rows.values() if a.credential_id in credential_ids})


class FakeRecognitionReports:
    """The recognition views' reads over the other fakes' rows. The fake ledger keeps no times, so an entry is
    dated by its place in the ledger: a minute after the one before, from ``epoch``."""

    epoch = datetime(2025, 9, 1, tzinfo=UTC)

    def __init__(self, recognitions: FakeRecognitions, licenses: FakeLicenses, awards: FakeAwards,
                 credentials: FakeCredentials) -> None:
        self.recognitions, self.licenses, self.awards, self.credentials = recognitions, licenses, awards, credentials

    def _dated(self) -> list[tuple[StoredEntry, DatedEntry]]:
        return [(row, DatedEntry(row.entry_id, row.teacher_id, self.epoch + timedelta(minutes=n), row.entry))
                for n, row in enumerate(self.recognitions.rows)]

    async def of_teacher(self, teacher_id: str) -> list[DatedEntry]:
        return [dated for row, dated in self._dated() if row.teacher_id == teacher_id]

    async def of_programs(self, state: str, program_ids: Collection[str], district: str | None,
                          year: int | None = None) -> list[DatedEntry]:
        licensed = {x.teacher_id for x in self.licenses.rows.values() if x.state == state and x.district == district}
        return [dated for row, dated in self._dated() if row.state == state and row.entry.program_id in program_ids
                and (year is None or row.entry.year == year) and (district is None or row.teacher_id in licensed)]

    async def licenses_of(self, state: str, teacher_ids: Collection[str]) -> list[License]:
        return sorted((x for x in self.licenses.rows.values() if x.state == state and x.teacher_id in teacher_ids),
                      key=lambda x: x.license_number)

    async def credential_names(self, credential_ids: Collection[UUID]) -> dict[UUID, str]:
        names = {a.credential_id: a.credential_name for a in self.awards.rows.values()
                 if a.credential_id in credential_ids}
        for (credential_id, _), version in sorted(self.credentials.rows.items(), key=lambda kv: kv[0][1]):
            if credential_id in credential_ids:
                names[credential_id] = version.name
        return names


class FakeReviews:
    """The review queue without its locking (one transaction at a time here): teacher -> due date."""

    def __init__(self, awards: FakeAwards) -> None:
        self.rows: dict[str, datetime] = {}
        self.awards = awards

    async def hold(self, teacher_id: str) -> bool:
        return teacher_id in self.rows

    async def schedule(self, teacher_id: str, due_at: datetime | None, *, held: bool) -> None:
        if held and due_at is None:
            self.rows.pop(teacher_id, None)
        elif held or (due_at is not None and teacher_id not in self.rows):
            assert due_at is not None
            self.rows[teacher_id] = due_at

    async def enqueue_holders(self, credential_ids: Collection[UUID], at: datetime) -> int:
        teachers = {a.teacher_id for a in self.awards.rows.values() if a.credential_id in credential_ids}
        for teacher_id in teachers:
            self.rows[teacher_id] = min(self.rows.get(teacher_id, at), at)
        return len(teachers)

    async def due(self, now: datetime, limit: int) -> list[str]:
        return sorted((t for t, due in self.rows.items() if due <= now), key=lambda t: (self.rows[t], t))[:limit]

    async def postpone(self, teacher_id: str, until: datetime) -> None:
        if teacher_id in self.rows:
            self.rows[teacher_id] = until

    async def due_at(self, teacher_id: str) -> datetime | None:
        return self.rows.get(teacher_id)


class FakeUnitOfWork(FakeMessagingUnitOfWork):
    """Claims and events only count once committed, like the real unit of work."""

    def __init__(self, rule_sets: Sequence[RuleSet] = (TN, UT)) -> None:
        super().__init__()
        self.rule_sets = FakeRuleSets(rule_sets)
        self.licenses = FakeLicenses()
        self.awards = FakeAwards()
        self.credentials = FakeCredentials()
        self.ledger = FakeLedger()
        self.ledger.licenses = self.licenses
        self.claims = FakeClaims(self.awards)
        self.approvals = FakeApprovals()
        self.webhooks = FakeWebhooks()
        self.reports = FakeReports(self.licenses, self.awards, self.credentials)
        self.recognitions = FakeRecognitions()
        self.memberships = FakeMemberships(self.awards)
        self.recognition_reports = FakeRecognitionReports(self.recognitions, self.licenses, self.awards,
                                                          self.credentials)
        self.reviews = FakeReviews(self.awards)
        self.metrics = LicensureMetrics()
        self.award_to_credit: list[tuple[str, float]] = []

    def note_award_to_credit(self, state: str, seconds: float) -> None:
        self.award_to_credit.append((state, seconds))

    def feed(self, state: str | None = None) -> list[StateFeedRecord]:
        return [e for e in self.published if isinstance(e, StateFeedRecord) and state in (None, e.state)]


@pytest.fixture
def uow() -> Any:
    return FakeUnitOfWork()


@pytest.fixture
def make_uow() -> type[FakeUnitOfWork]:
    """For tests that choose the rule sets in force: ``make_uow(rule_sets=(...))``."""
    return FakeUnitOfWork


@pytest.fixture
def build() -> type[Builders]:
    return Builders
