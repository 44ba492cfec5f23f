"""Evaluating a teacher against a program: the outcomes it holds for them now, diffed against the ledger.

Order independence: nothing here looks at the order events arrived in. The teacher's awards are replayed
on their own clock (issue time, the time a suspension or revocation took effect, expiry):

- an award *lives* from its issue time until it is removed: revoked, suspended, expired, or aged out of
  the program's validity window (an expiry the program sets itself);
- an award *supports* an outcome while it lives, and after its removal too when the program keeps
  outcomes for that cause (``on_revocation`` / ``on_suspension`` / ``on_expiry`` = "keep");
- an outcome is held now when, at some issue instant t <= as_of, the awards living at t that still
  support it now qualify for it. (Qualification only grows at an issue instant, so those are the only
  instants to try.)

Those outcomes are the target. :func:`evaluate` returns the entries that bring the ledger to the target:
a grant for an outcome it lacks, a reversal for one it holds that is no longer held. Evaluating again on
the same facts returns nothing, and evaluating after each event, in any order, ends with the same
outcomes held. A reinstated award lives again, so what its suspension reversed is granted again.

Credentials count once: a teacher holding two awards of one credential (two versions) is credited for
the earliest living one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal, NamedTuple
from uuid import UUID

from microcred.licensure.domain.recognition.ledger import RecognitionEntry, holdings
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


class Progress(NamedTuple):
    """Where a teacher stands toward a program, for their own view: "4 of 6 for Mentor Teacher"."""

    have: Decimal
    need: Decimal
    toward: str

    def __str__(self) -> str:
        return f"{_num(self.have)} of {_num(self.need)} {self.toward}"


@dataclass(frozen=True)
class _Counted:
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


def _removal(program: Program, award: HeldAward, as_of: datetime) -> tuple[datetime | None, Cause | None]:
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
    if isinstance(rule, CountFromSet | IncentivePerCredential) and not program.in_force(_day(award.issued_at)):
        return False
    if isinstance(rule, CountFromSet | IncentivePerCredential | EquivalencyHours):
        return rule.from_set.contains(award.credential_id, memberships.stacks)
    return award.credential_id in required_credentials(program, memberships)


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


def _supporting(program: Program, held: Iterable[HeldAward], growth_plan: frozenset[UUID],
                memberships: Memberships, as_of: datetime) -> list[_Counted]:
    found = []
    for award in held:
        if award.issued_at > as_of or not _in_scope(program, award, growth_plan, memberships):
            continue
        removed_at, cause = _removal(program, award, as_of)
        if cause is None or program.treatment(cause) == "keep":
            found.append(_Counted(award, removed_at, cause))
    return sorted(found, key=lambda c: (c.award.issued_at, str(c.award.award_id)))


def _distinct_living(counted: Sequence[_Counted], t: datetime) -> list[HeldAward]:
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
    counted = _supporting(program, held, frozenset(growth_plan), members, as_of)
    instants = sorted({c.award.issued_at for c in counted})
    rule = program.rule
    if isinstance(rule, CountFromSet):
        return _steps(program, rule, counted, instants, as_of)
    if isinstance(rule, IncentivePerCredential):
        return _incentives(program, rule, counted)
    if isinstance(rule, EquivalencyHours):
        for t in instants:
            living = _distinct_living(counted, t)
            if len(living) * rule.hours_per_credential >= rule.target_hours:
                return [Target("complete", _day(t).year, _ids(living), program.outcome.amount)]
        return []
    # Only awards of required credentials are in scope, so an empty (unknown) stack has no instant to try.
    required = required_credentials(program, members)
    for t in instants:
        living = [a for a in _distinct_living(counted, t) if a.credential_id in required]
        if len(living) == len(required):
            return [Target("complete", _day(t).year, _ids(living), program.outcome.amount)]
    return []


def _steps(program: Program, rule: CountFromSet, counted: Sequence[_Counted], instants: Sequence[datetime],
           as_of: datetime) -> list[Target]:
    """Step k is earned at the first instant k * count credentials live together; the year cap moves a
    step to the next year with room. Every step, held or new, takes its year's room, so the cap counts
    what the ledger already holds that year."""
    per_year: dict[int, int] = {}
    found: list[Target] = []
    now = program.year_of(_day(as_of), rule.year)
    k = 1
    for t in instants:
        living = _distinct_living(counted, t)
        while len(living) >= k * rule.count and (rule.repeats or k == 1):
            year = program.year_of(_day(t), rule.year)
            while rule.max_per_year is not None and per_year.get(year, 0) >= rule.max_per_year:
                year += 1
            if year > now:
                return found  # due in a later year; every further step comes later still
            per_year[year] = per_year.get(year, 0) + 1
            found.append(Target(f"step-{k}", year, _ids(living[(k - 1) * rule.count:k * rule.count]),
                                program.outcome.amount))
            k += 1
    return found


def _incentives(program: Program, rule: IncentivePerCredential, counted: Sequence[_Counted]) -> list[Target]:
    """A year's incentive: the amount per distinct credential issued that year, held to the cap."""
    assert program.outcome.amount is not None  # Program refuses an incentive without one
    by_year: dict[int, list[HeldAward]] = {}
    seen: set[UUID] = set()
    for c in counted:
        if c.lives_at(c.award.issued_at) and c.award.credential_id not in seen:
            seen.add(c.award.credential_id)
            by_year.setdefault(program.year_of(_day(c.award.issued_at), rule.year), []).append(c.award)
    found = []
    for year, awards in sorted(by_year.items()):
        total = program.outcome.amount * len(awards)
        if rule.cap_per_year is not None:
            total = min(total, rule.cap_per_year)
        found.append(Target(f"year-{year}", year, _ids(awards), total))
    return found


def evaluate(program: Program, held: Iterable[HeldAward], *, growth_plan: Iterable[UUID] = (),
             memberships: Memberships | None = None, as_of: datetime,
             already: Iterable[RecognitionEntry] = ()) -> list[RecognitionEntry]:
    """The ledger entries that bring the program's ledger for this teacher to what the facts hold now.

    A program not in force on ``as_of`` changes nothing: an ended program neither grants nor takes back.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if not program.in_force(_day(as_of)):
        return []
    awards = list(held)
    current = holdings(e for e in already if e.program_id == program.program_id)
    wanted = {t.key: t for t in targets(program, awards, growth_plan=growth_plan, memberships=memberships,
                                        as_of=as_of)}
    pending = program.requires_district_approval
    label = program.outcome.label
    changes: list[RecognitionEntry] = []

    def entry(key: str, kind: Literal["grant", "reverse"], year: int, cited: tuple[UUID, ...], reason: str,
              amount: Decimal | None) -> RecognitionEntry:
        return RecognitionEntry(program.program_id, program.version, key, kind, year, cited, reason, amount,
                                pending=pending and kind == "grant")

    is_money = isinstance(program.rule, IncentivePerCredential)
    for key, target in sorted(wanted.items()):
        holding = current.get(key)
        if holding is not None and holding.status == "declined":
            continue  # the district said no to this outcome; asking again on every event would nag
        had = holding.amount or Decimal(0) if holding is not None and holding.held else None
        if is_money and target.amount is not None:
            owed = target.amount - (had or Decimal(0))
            if owed > 0:
                changes.append(entry(key, "grant", target.year, target.award_ids,
                                     f"{label}: {_num(owed)} {program.outcome.unit} for {target.year}", owed))
            elif owed < 0 and holding is not None:
                changes.append(entry(key, "reverse", target.year, holding.award_ids,
                                     f"{label} for {target.year}: " + _why_not(program, awards, holding.award_ids,
                                                                              growth_plan, as_of), -owed))
        elif had is None:
            changes.append(entry(key, "grant", target.year, target.award_ids, _granted(program, key),
                                 target.amount))
    for key, holding in sorted(current.items()):
        if key not in wanted and holding.held:
            changes.append(entry(key, "reverse", holding.year, holding.award_ids,
                                 f"{label} ({key}): " + _why_not(program, awards, holding.award_ids, growth_plan,
                                                                 as_of), holding.amount))
    return changes


def _granted(program: Program, key: str) -> str:
    step = f" {key.removeprefix('step-')}" if key.startswith("step-") else ""
    return f"{program.outcome.label}{step} earned under {program.name} version {program.version}"


def _why_not(program: Program, held: Sequence[HeldAward], cited: tuple[UUID, ...], growth_plan: Iterable[UUID],
             as_of: datetime) -> str:
    """Why the cited awards no longer earn the outcome, in words a teacher and a district can check."""
    plan = frozenset(growth_plan)
    reasons = []
    for award in held:
        if award.award_id not in cited:
            continue
        _, cause = _removal(program, award, as_of)
        if cause is not None and program.treatment(cause) == "reverse":
            reasons.append(f"award {award.award_id} lost to {cause}")
        elif program.requires_growth_plan and award.credential_id not in plan:
            reasons.append(f"award {award.award_id} is no longer in the growth plan")
    missing = [str(i) for i in cited if i not in {a.award_id for a in held}]
    reasons += [f"award {i} is no longer held" for i in missing]
    return "; ".join(reasons) or f"no longer qualifies under {program.name} version {program.version}"


def progress(program: Program, held: Iterable[HeldAward], *, growth_plan: Iterable[UUID] = (),
             memberships: Memberships | None = None, as_of: datetime) -> Progress:
    """Where the teacher stands now, counting only awards that live today (a kept outcome stays granted,
    but a lost credential is not shown as progress)."""
    members = memberships or Memberships()
    counted = [c for c in _supporting(program, held, frozenset(growth_plan), members, as_of) if c.cause is None]
    living = _distinct_living(counted, as_of)
    rule, label = program.rule, program.outcome.label
    if isinstance(rule, CountFromSet):
        if not rule.repeats or program.outcome.kind == "designation":
            return Progress(Decimal(min(len(living), rule.count)), Decimal(rule.count), f"for {label}")
        return Progress(Decimal(len(living) % rule.count), Decimal(rule.count), "toward the next step")
    if isinstance(rule, EquivalencyHours):
        hours = min(len(living) * rule.hours_per_credential, rule.target_hours)
        return Progress(hours, rule.target_hours, f"hours toward {label}")
    if isinstance(rule, IncentivePerCredential):
        year = program.year_of(_day(as_of), rule.year)
        this_year = [t for t in _incentives(program, rule, counted) if t.year == year]
        earned = this_year[0].amount or Decimal(0) if this_year else Decimal(0)
        cap = rule.cap_per_year if rule.cap_per_year is not None else earned
        return Progress(earned, cap, f"{program.outcome.unit} of the {year} cap for {label}")
    required = required_credentials(program, members)
    have = sum(1 for a in living if a.credential_id in required)
    return Progress(Decimal(have), Decimal(len(required)), f"for {label}")


def _num(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def _day(moment: datetime) -> date:
    """An instant's UTC calendar day, as the credit ledger dates an award."""
    return moment.astimezone(UTC).date()
