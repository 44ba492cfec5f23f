"""The teacher's awards replayed on their own clock: the outcomes a program holds for them at a moment.

Order independence rests here: nothing looks at the order events arrived in, only at each award's own
times (issue, the time a suspension or revocation took effect, expiry):

- an award *lives* from its issue time until it is removed: revoked, suspended, expired, or aged out of
  the program's validity window (an expiry the program sets itself);
- an award *supports* an outcome while it lives, and after its removal too when the program keeps
  outcomes for that cause (``on_revocation`` / ``on_suspension`` / ``on_expiry`` = "keep");
- an outcome is held at ``as_of`` when, at some issue instant t <= as_of, the awards living at t that
  still support it qualify for it. (Qualification only grows at an issue instant, so those are the only
  instants to try.) A reinstated award lives again.

Credentials count once: a teacher holding two awards of one credential (two versions) is credited for
the earliest living one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from microcred.licensure.domain.recognition.programs import (
    Cause,
    CompletePathway,
    CompleteStack,
    CountFromSet,
    Eligibility,
    EquivalencyHours,
    IncentivePerCredential,
    Program,
)

Standing = Literal["active", "suspended", "revoked"]


@dataclass(frozen=True)
class HeldAward:
    """An award as the evaluation needs it: its credential, its clock, and its standing now."""

    award_id: UUID
    credential_id: UUID
    issued_at: datetime
    standing: Standing = "active"
    standing_since: datetime | None = None  # when the current suspension or revocation took effect
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")
        if self.standing != "active" and self.standing_since is None:
            raise ValueError(f"a {self.standing} award needs standing_since")


@dataclass(frozen=True)
class Memberships:
    """The catalog's current stacks and pathways: id -> the credentials it holds."""

    stacks: Mapping[UUID, frozenset[UUID]] = field(default_factory=dict)
    pathways: Mapping[UUID, frozenset[UUID]] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    key: str
    year: int
    award_ids: tuple[UUID, ...]
    amount: Decimal | None


@dataclass(frozen=True)
class Counted:
    award: HeldAward
    removed_at: datetime | None
    cause: Cause | None

    def lives_at(self, t: datetime) -> bool:
        return self.award.issued_at <= t and (self.removed_at is None or t < self.removed_at)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, held to the month's last day (Jan 31 + 1 month = Feb 28 or 29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def removal(program: Program, award: HeldAward, as_of: datetime) -> tuple[datetime | None, Cause | None]:
    """When and why the award stopped counting by ``as_of``; (None, None) while it still counts."""
    ends: list[tuple[datetime, Cause]] = []
    if award.standing != "active" and award.standing_since is not None and award.standing_since <= as_of:
        ends.append((award.standing_since, "revocation" if award.standing == "revoked" else "suspension"))
    if award.valid_until is not None and award.valid_until <= as_of:
        ends.append((award.valid_until, "expiry"))
    if program.validity_months is not None:
        lapse = add_months(award.issued_at, program.validity_months)
        if lapse <= as_of:
            ends.append((lapse, "expiry"))
    if not ends:
        return None, None
    at, cause = min(ends, key=lambda end: end[0])
    return at, cause


def _in_scope(program: Program, award: HeldAward, growth_plan: frozenset[UUID], memberships: Memberships) -> bool:
    """Whether the rule can count this award at all. Steps and money count only credentials issued while
    the program is in force (a schedule is not retroactive); a designation recognises what the teacher
    holds, whenever it was earned."""
    if program.requires_growth_plan and award.credential_id not in growth_plan:
        return False
    rule = program.rule
    if isinstance(rule, CountFromSet | IncentivePerCredential) and not program.in_force(day_of(award.issued_at)):
        return False
    if isinstance(rule, CountFromSet | IncentivePerCredential | EquivalencyHours):
        return rule.from_set.contains(award.credential_id, memberships.stacks)
    return award.credential_id in required_credentials(program, memberships)


def needs_membership(program: Program) -> bool:
    return isinstance(program.rule, CompleteStack | CompletePathway | Eligibility)


def required_credentials(program: Program, memberships: Memberships) -> frozenset[UUID]:
    """Every credential a completion or eligibility rule needs; empty for a stack the catalog never sent."""
    rule = program.rule
    if isinstance(rule, CompleteStack):
        return memberships.stacks.get(rule.stack_id, frozenset())
    if isinstance(rule, CompletePathway):
        return memberships.pathways.get(rule.pathway_id, frozenset())
    if isinstance(rule, Eligibility):
        needed = set(rule.credentials)
        for stack in rule.stacks:
            members = memberships.stacks.get(stack)
            if not members:
                return frozenset()  # an unknown stack cannot be completed; never treat it as empty
            needed |= members
        return frozenset(needed)
    return frozenset()


def supporting(program: Program, held: Iterable[HeldAward], growth_plan: frozenset[UUID],
                memberships: Memberships, as_of: datetime) -> list[Counted]:
    found = []
    for award in held:
        if award.issued_at > as_of or not _in_scope(program, award, growth_plan, memberships):
            continue
        removed_at, cause = removal(program, award, as_of)
        if cause is None or program.treatment(cause) == "keep":
            found.append(Counted(award, removed_at, cause))
    return sorted(found, key=lambda c: (c.award.issued_at, str(c.award.award_id)))


def distinct_living(counted: Sequence[Counted], t: datetime) -> list[HeldAward]:
    """The awards living at ``t``, one per credential (the earliest issued), in issue order."""
    first: dict[UUID, HeldAward] = {}
    for c in counted:
        if c.lives_at(t) and c.award.credential_id not in first:
            first[c.award.credential_id] = c.award
    return list(first.values())


def _ids(awards: Iterable[HeldAward]) -> tuple[UUID, ...]:
    return tuple(a.award_id for a in awards)


def targets(program: Program, held: Iterable[HeldAward], *, growth_plan: Iterable[UUID] = (),
            memberships: Memberships | None = None, as_of: datetime) -> list[Target]:
    """The outcomes the program holds for the teacher at ``as_of``, from the facts alone."""
    members = memberships or Memberships()
    counted = supporting(program, held, frozenset(growth_plan), members, as_of)
    instants = sorted({c.award.issued_at for c in counted})
    rule = program.rule
    if isinstance(rule, CountFromSet):
        return _steps(program, rule, counted, instants, as_of)
    if isinstance(rule, IncentivePerCredential):
        return incentives(program, rule, counted)
    if isinstance(rule, EquivalencyHours):
        for t in instants:
            living = distinct_living(counted, t)
            if len(living) * rule.hours_per_credential >= rule.target_hours:
                return [Target("complete", day_of(t).year, _ids(living), program.outcome.amount)]
        return []
    # Only awards of required credentials are in scope, so an empty (unknown) stack has no instant to try.
    required = required_credentials(program, members)
    for t in instants:
        living = [a for a in distinct_living(counted, t) if a.credential_id in required]
        if len(living) == len(required):
            return [Target("complete", day_of(t).year, _ids(living), program.outcome.amount)]
    return []


def _steps(program: Program, rule: CountFromSet, counted: Sequence[Counted], instants: Sequence[datetime],
           as_of: datetime) -> list[Target]:
    """Step k is earned at the first instant k * count credentials live together; the year cap moves a
    step to the next year with room. Every step, held or new, takes its year's room, so the cap counts
    what the ledger already holds that year."""
    per_year: dict[int, int] = {}
    found: list[Target] = []
    now = program.year_of(day_of(as_of), rule.year)
    k = 1
    for t in instants:
        living = distinct_living(counted, t)
        while len(living) >= k * rule.count and (rule.repeats or k == 1):
            year = program.year_of(day_of(t), rule.year)
            while rule.max_per_year is not None and per_year.get(year, 0) >= rule.max_per_year:
                year += 1
            if year > now:
                return found  # due in a later year; every further step comes later still
            per_year[year] = per_year.get(year, 0) + 1
            found.append(Target(f"step-{k}", year, _ids(living[(k - 1) * rule.count:k * rule.count]),
                                program.outcome.amount))
            k += 1
    return found


def incentives(program: Program, rule: IncentivePerCredential, counted: Sequence[Counted]) -> list[Target]:
    """A year's incentive: the amount per distinct credential issued that year, held to the cap."""
    assert program.outcome.amount is not None  # Program refuses an incentive without one
    by_year: dict[int, list[HeldAward]] = {}
    seen: set[UUID] = set()
    for c in counted:
        if c.lives_at(c.award.issued_at) and c.award.credential_id not in seen:
            seen.add(c.award.credential_id)
            by_year.setdefault(program.year_of(day_of(c.award.issued_at), rule.year), []).append(c.award)
    found = []
    for year, awards in sorted(by_year.items()):
        total = program.outcome.amount * len(awards)
        if rule.cap_per_year is not None:
            total = min(total, rule.cap_per_year)
        found.append(Target(f"year-{year}", year, _ids(awards), total))
    return found


def day_of(moment: datetime) -> date:
    """An instant's UTC calendar day, as the credit ledger dates an award."""
    return moment.astimezone(UTC).date()
