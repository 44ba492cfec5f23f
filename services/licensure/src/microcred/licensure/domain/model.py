"""Licensure rules: which state rule set applies to an award, whether and how much it counts, and the ledger.

A rule set is data, versioned per state and effective from a date: the unit, what one micro-credential
is worth, the requirement and an optional cap per cycle, which issuers or credentials count, whether the
credential must be in the teacher's professional growth plan, whether a district approves before
credit posts, and what revocation and expiry do to a credit.

Every (award, license) pair gets exactly one :class:`CreditClaim`, the decision with its reason: posted
(possibly capped), pending district approval, rejected (by a rule or by the district), or reversed.
Money moves only in the ledger, which is append-only: a credit, a reversal that takes it back, or an
operator's adjustment; a balance is always the sum of entries. Amounts are ``Decimal`` end to end, so
0.5 credits add up exactly.

Dates: an award counts on the UTC calendar day of its issue time; a cycle includes both its first and
its last day.

A credential's status changes (suspended, reinstated, revoked, expired) are told to every state whose
licensee has a decision on the award, with what the change did to that credit: revocation and expiry
follow the rule set's ``on_revocation`` / ``on_expiry``; suspension and reinstatement never move credit.
There is deliberately no ``on_suspension``: a suspension is reversible, and the ledger holds at most one
credit and one reversal per (award, license), so a credit reversed at a suspension could never post
again at the reinstatement.

Issuer credit hints (from catalog.credential-published) are shown beside a credit for the reader's
information only: what a credential is worth is decided by the state's rule set alone, so nothing that
computes an amount ever reads a hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from microcred.events import CredentialPublished
from microcred.runtime.api_types import Digits
from microcred.runtime.errors import Conflict, Invalid

AcceptPolicy = Literal["all", "listed", "state_approved"]
Treatment = Literal["reverse", "keep"]
UNITS = ("points", "hours", "CEUs", "credits")
#: Every amount a request carries (requirements, caps, credit per credential, adjustments): the ledger
#: stores them as numeric(12, 4).
Amount = Annotated[Decimal, Digits(12, 4)]


class EntryKind(StrEnum):
    CREDIT = "credit"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"


class ClaimStatus(StrEnum):
    POSTED = "posted"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    DISTRICT_REJECTED = "district_rejected"
    CAPPED = "capped"
    REVERSED = "reversed"


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
    cap_per_cycle: Decimal | None = None
    accepts: AcceptPolicy = "all"
    accepted_issuers: tuple[UUID, ...] = ()
    accepted_credentials: tuple[UUID, ...] = ()
    requires_growth_plan_match: bool = False
    requires_district_approval: bool = False
    on_revocation: Treatment = "reverse"
    on_expiry: Treatment = "keep"
    source_url: str | None = None
    example: bool = True

    def __post_init__(self) -> None:
        problems = []
        if len(self.state) != 2 or not self.state.isupper():
            problems.append(f"state {self.state!r} is not a two-letter code")
        if self.unit not in UNITS:
            problems.append(f"unit {self.unit!r} is not one of {', '.join(UNITS)}")
        if self.amount_per_credential <= 0 or self.required_per_cycle <= 0:
            problems.append("amount_per_credential and required_per_cycle must be positive")
        if self.cap_per_cycle is not None and self.cap_per_cycle < self.amount_per_credential:
            problems.append("cap_per_cycle is below the value of one micro-credential")
        if self.accepts == "listed" and not (self.accepted_issuers or self.accepted_credentials):
            problems.append('accepts "listed" needs accepted_issuers or accepted_credentials')
        if self.version < 1:
            problems.append("version starts at 1")
        if problems:
            raise Invalid(f"rule set {self.rule_set_id}: " + "; ".join(problems), code="invalid_rule_set",
                          details=problems)

    def refusal(self, credential_id: UUID, issuer_id: UUID | None, state_approved: set[UUID]) -> str | None:
        """Why this rule set does not accept the credential at all; None when it does."""
        if self.accepts == "listed":
            if credential_id in self.accepted_credentials or (issuer_id is not None and issuer_id in
                                                              self.accepted_issuers):
                return None
            return f"{self.state} accepts only listed issuers and credentials; this one is not listed"
        if self.accepts == "state_approved" and credential_id not in state_approved:
            return f"{self.state} accepts only credentials it has approved; this one is not approved"
        return None


@dataclass(frozen=True)
class License:
    license_id: UUID
    teacher_id: str
    state: str
    license_number: str
    license_type: str
    cycle_start: date
    cycle_end: date
    required_amount: Decimal | None = None
    district: str | None = None
    growth_plan: tuple[UUID, ...] = ()

    def __post_init__(self) -> None:
        if self.cycle_end <= self.cycle_start:
            raise Invalid("a license cycle must end after it starts", code="invalid_cycle")
        if self.required_amount is not None and self.required_amount <= 0:
            raise Invalid("a license's required amount must be positive", code="invalid_required_amount")

    def cycle_contains(self, day: date) -> bool:
        return self.cycle_start <= day <= self.cycle_end

    def cycle_reference_day(self, today: date) -> date:
        """The day whose rules describe this cycle now: today, held within the cycle's bounds."""
        return min(max(today, self.cycle_start), self.cycle_end)

    def required(self, rule_set: RuleSet | None) -> Decimal | None:
        """What renewal needs: the license's own figure when the state set one for it, else the rule set's."""
        if self.required_amount is not None:
            return self.required_amount
        return None if rule_set is None else rule_set.required_per_cycle


@dataclass(frozen=True)
class AwardRecord:
    """What licensure keeps of an award: enough to credit a license registered later and to feed states."""

    award_id: UUID
    teacher_id: str
    credential_id: UUID
    credential_version: int
    credential_name: str
    issued_at: datetime
    issuer_id: UUID | None = None
    valid_until: datetime | None = None
    credential: dict[str, Any] | None = field(default=None, compare=False)
    credential_url: str | None = None

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
    # The practice the credential certifies, as the catalog published it; None for versions recorded before
    # licensure kept it (migration 0007), until the topic is replayed.
    competency: str | None = None

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
            competency=event.competency,
        )


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: UUID
    license_id: UUID
    award_id: UUID | None  # None for an operator's adjustment that no award caused
    kind: EntryKind
    amount: Decimal
    unit: str
    rule_set_id: str
    rule_set_version: int
    earned_on: date
    reason: str | None = None
    posted_at: datetime | None = None
    reverses_entry_id: UUID | None = None


@dataclass
class CreditClaim:
    """The decision for one (award, license): what the state's rules and its district made of the award."""

    award_id: UUID
    license_id: UUID
    status: ClaimStatus
    reason: str | None
    earned_on: date
    rule_set_id: str | None = None
    rule_set_version: int | None = None
    amount: Decimal | None = None  # what was posted (after any cap) or, while pending, what would be
    unit: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None

    def decide(self, approve: bool, reason: str, by: str, at: datetime) -> None:
        """A district's decision on a pending credit; only a pending claim can be decided."""
        if self.status is not ClaimStatus.PENDING_APPROVAL:
            raise Conflict(f"the credit is {self.status.value}, not pending approval", code="not_pending")
        if not approve and not reason.strip():
            raise Invalid("a rejection needs a reason", code="reason_required")
        self.decided_by, self.decided_at = by, at
        if not approve:
            self.status, self.reason = ClaimStatus.DISTRICT_REJECTED, reason.strip()
        elif reason.strip():
            self.reason = reason.strip()


StatusChangeKind = Literal["suspended", "reinstated", "revoked"]


@dataclass(frozen=True)
class StatusChange:
    """A change of an award's standing as its issuer announced it; ``changed_at`` orders changes that
    arrive out of order (they come on different topics)."""

    award_id: UUID
    status: StatusChangeKind
    changed_at: datetime
    reason: str
    changed_by: str | None = None


def standing(changes: Iterable[StatusChange]) -> StatusChange | None:
    """The change that decides the award's standing now: a revocation (final), else the latest change."""
    return max(changes, key=lambda c: (c.status == "revoked", c.changed_at), default=None)


@dataclass(frozen=True)
class Outcome:
    status: ClaimStatus
    reason: str | None
    amount: Decimal | None = None


def award_day(issued_at: datetime) -> date:
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return issued_at.astimezone(UTC).date()


def rule_in_force(rule_sets: Iterable[RuleSet], state: str, on: date) -> RuleSet | None:
    """The latest rule set of ``state`` already effective ``on`` that day (the higher version breaks ties)."""
    candidates = [r for r in rule_sets if r.state == state and r.effective_from <= on]
    return max(candidates, key=lambda r: (r.effective_from, r.version), default=None)


def capped_amount(rule_set: RuleSet, earned_in_cycle: Decimal) -> Outcome:
    """What one more credential adds under the cycle cap: all of it, part of it, or nothing."""
    value = rule_set.amount_per_credential
    if rule_set.cap_per_cycle is None:
        return Outcome(ClaimStatus.POSTED, None, value)
    room = rule_set.cap_per_cycle - earned_in_cycle
    if room <= 0:
        return Outcome(ClaimStatus.CAPPED, f"the {rule_set.state} cap of {_num(rule_set.cap_per_cycle)} "
                       f"{rule_set.unit} per cycle from micro-credentials is reached", Decimal(0))
    if room < value:
        return Outcome(ClaimStatus.POSTED, f"capped: {_num(room)} of {_num(value)} {rule_set.unit} counted "
                       f"(cap {_num(rule_set.cap_per_cycle)} per cycle)", room)
    return Outcome(ClaimStatus.POSTED, None, value)


def evaluate(
    license: License,
    rule_set: RuleSet | None,
    award: AwardRecord,
    *,
    earned_in_cycle: Decimal,
    state_approved: set[UUID],
    revoked: bool,
) -> Outcome | None:
    """What ``award`` does for ``license``; None when it is not the license holder's award at all."""
    if award.teacher_id != license.teacher_id:
        return None
    if rule_set is not None and rule_set.state != license.state:
        raise Invalid(
            f"rule set {rule_set.rule_set_id} is for {rule_set.state}, the license is in {license.state}",
            code="rule_set_state_mismatch",
        )
    day = award.earned_on
    if revoked:
        return Outcome(ClaimStatus.REJECTED, "the credential was revoked by its issuer")
    if rule_set is None:
        return Outcome(ClaimStatus.REJECTED, f"no {license.state} rule set was in force on {day.isoformat()}")
    if not license.cycle_contains(day):
        return Outcome(ClaimStatus.REJECTED, f"earned on {day.isoformat()}, outside the renewal cycle "
                       f"{license.cycle_start.isoformat()} to {license.cycle_end.isoformat()}")
    refusal = rule_set.refusal(award.credential_id, award.issuer_id, state_approved)
    if refusal is not None:
        return Outcome(ClaimStatus.REJECTED, refusal)
    if rule_set.requires_growth_plan_match and award.credential_id not in license.growth_plan:
        return Outcome(ClaimStatus.REJECTED, f"{license.state} counts only credentials in the teacher's "
                       "professional growth plan; this one is not in it")
    if rule_set.requires_district_approval:
        return Outcome(ClaimStatus.PENDING_APPROVAL, "waiting for the district's approval",
                       rule_set.amount_per_credential)
    return capped_amount(rule_set, earned_in_cycle)


def earned_in_cycle(license: License, entries: Iterable[LedgerEntry]) -> Decimal:
    return sum(
        (e.amount for e in entries if e.license_id == license.license_id and license.cycle_contains(e.earned_on)),
        Decimal(0),
    )


def _num(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


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
