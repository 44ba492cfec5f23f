"""Licensure rules: which state rule set applies to an award, what it is worth, and what a cycle holds.

The ledger is append-only: an entry is never changed, a balance is always the sum of entries. A credit
is identified by (award, license, kind), so however often an award is delivered or a license is
registered, one award credits one license at most once. Amounts are ``Decimal`` end to end: credit
units such as 0.5 credits must add up exactly.

Dates: an award counts on the UTC calendar day of its issue time; a cycle includes both its first and
its last day.

Issuer credit hints (from catalog.credential-published) are shown beside a credit for the reader's
information only: what a credential is worth is decided by the state's rule set alone, so nothing that
computes an amount ever reads a hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from microcred.events import CredentialPublished
from microcred.runtime.errors import Invalid


class EntryKind(StrEnum):
    CREDIT = "credit"


@dataclass(frozen=True)
class RuleSet:
    """How one state counts micro-credentials toward license renewal, from ``effective_from`` on."""

    rule_set_id: str
    state: str
    version: int
    effective_from: date
    unit: str
    amount_per_credential: Decimal
    required_per_cycle: Decimal
    source_note: str = ""


@dataclass(frozen=True)
class License:
    license_id: UUID
    teacher_id: str
    state: str
    license_number: str
    license_type: str
    cycle_start: date
    cycle_end: date

    def __post_init__(self) -> None:
        if self.cycle_end <= self.cycle_start:
            raise Invalid("a license cycle must end after it starts", code="invalid_cycle")

    def cycle_contains(self, day: date) -> bool:
        return self.cycle_start <= day <= self.cycle_end

    def cycle_reference_day(self, today: date) -> date:
        """The day whose rules describe this cycle now: today, held within the cycle's bounds."""
        return min(max(today, self.cycle_start), self.cycle_end)


@dataclass(frozen=True)
class AwardRecord:
    """What licensure keeps of an award: enough to credit a license registered after it."""

    award_id: UUID
    teacher_id: str
    credential_id: UUID
    credential_version: int
    credential_name: str
    issued_at: datetime

    @property
    def earned_on(self) -> date:
        return award_day(self.issued_at)


@dataclass(frozen=True)
class IssuerCreditHint:
    """What the issuer suggests a credential is worth. Never an input to credit: see the module docstring."""

    unit: str
    amount: Decimal
    note: str | None = None


@dataclass(frozen=True)
class CredentialVersion:
    """What licensure keeps of a published credential version: enough to name it beside its credits."""

    credential_id: UUID
    version: int
    name: str
    issuer_id: UUID
    issuer_name: str
    credit_hints: tuple[IssuerCreditHint, ...] = ()

    @classmethod
    def from_event(cls, event: CredentialPublished) -> CredentialVersion:
        return cls(
            credential_id=event.credential_id,
            version=event.version,
            name=event.name,
            issuer_id=event.issuer.issuer_id,
            issuer_name=event.issuer.name,
            credit_hints=tuple(
                IssuerCreditHint(unit=hint.unit, amount=hint.amount, note=hint.note) for hint in event.credit_hints
            ),
        )


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: UUID
    license_id: UUID
    award_id: UUID
    kind: EntryKind
    amount: Decimal
    unit: str
    rule_set_id: str
    rule_set_version: int
    earned_on: date


def award_day(issued_at: datetime) -> date:
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return issued_at.astimezone(UTC).date()


def rule_in_force(rule_sets: Iterable[RuleSet], state: str, on: date) -> RuleSet | None:
    """The latest rule set of ``state`` already effective ``on`` that day (the higher version breaks ties)."""
    candidates = [r for r in rule_sets if r.state == state and r.effective_from <= on]
    return max(candidates, key=lambda r: (r.effective_from, r.version), default=None)


def credit_for(license: License, rule_set: RuleSet, award: AwardRecord, entry_id: UUID) -> LedgerEntry | None:
    """The credit ``award`` earns ``license`` under ``rule_set``; None if the award falls outside the cycle."""
    if rule_set.state != license.state:
        raise Invalid(
            f"rule set {rule_set.rule_set_id} is for {rule_set.state}, the license is in {license.state}",
            code="rule_set_state_mismatch",
        )
    if award.teacher_id != license.teacher_id or not license.cycle_contains(award.earned_on):
        return None
    return LedgerEntry(
        entry_id=entry_id,
        license_id=license.license_id,
        award_id=award.award_id,
        kind=EntryKind.CREDIT,
        amount=rule_set.amount_per_credential,
        unit=rule_set.unit,
        rule_set_id=rule_set.rule_set_id,
        rule_set_version=rule_set.version,
        earned_on=award.earned_on,
    )


def earned_in_cycle(license: License, entries: Iterable[LedgerEntry]) -> Decimal:
    return sum(
        (e.amount for e in entries if e.license_id == license.license_id and license.cycle_contains(e.earned_on)),
        Decimal(0),
    )


@dataclass(frozen=True)
class CreditedCredential:
    """The credential behind a ledger entry. ``issuer_name`` is None until its version is published here."""

    credential_id: UUID
    version: int
    name: str
    issuer_name: str | None


@dataclass(frozen=True)
class DescribedEntry:
    """A ledger entry as a reader sees it. ``issuer_credit_hints`` is None while the version is unknown
    (its catalog event has not arrived), and an empty tuple when the issuer suggests nothing."""

    entry: LedgerEntry
    credential: CreditedCredential | None
    issuer_credit_hints: tuple[IssuerCreditHint, ...] | None


def describe_entry(
    entry: LedgerEntry, award: AwardRecord | None, credential: CredentialVersion | None
) -> DescribedEntry:
    """Name the entry's credential from the best source at hand; a missing source leaves gaps, never fails.

    The catalog's version is preferred; the award's own copy of the name stands in until it arrives.
    """
    if award is None:
        return DescribedEntry(entry=entry, credential=None, issuer_credit_hints=None)
    if credential is None:
        return DescribedEntry(
            entry=entry,
            credential=CreditedCredential(
                credential_id=award.credential_id,
                version=award.credential_version,
                name=award.credential_name,
                issuer_name=None,
            ),
            issuer_credit_hints=None,
        )
    return DescribedEntry(
        entry=entry,
        credential=CreditedCredential(
            credential_id=credential.credential_id,
            version=credential.version,
            name=credential.name,
            issuer_name=credential.issuer_name,
        ),
        issuer_credit_hints=credential.credit_hints,
    )
