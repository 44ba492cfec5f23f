"""Evaluating a teacher against a program: the ledger entries that bring the ledger to what the facts hold.

:mod:`.replay` gives the outcomes held now (the target), from the facts alone; :func:`evaluate` diffs them
against the program's ledger for the teacher: a grant for an outcome it lacks (pending where the district
approves), a reversal for one it holds that is no longer held, and for an incentive a top-up or a partial
reversal to the year's amount. So evaluating again on the same facts adds nothing, and evaluating after
each event, in any order and with duplicates, ends with the same outcomes held.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple
from uuid import UUID

from microcred.licensure.domain.recognition.ledger import RecognitionEntry, holdings
from microcred.licensure.domain.recognition.programs import (
    CountFromSet,
    EquivalencyHours,
    IncentivePerCredential,
    Program,
)
from microcred.licensure.domain.recognition.replay import (
    HeldAward,
    Memberships,
    day_of,
    distinct_living,
    incentives,
    needs_membership,
    removal,
    required_credentials,
    supporting,
    targets,
)


class Progress(NamedTuple):
    """Where a teacher stands toward a program, for their own view: "4 of 6 for Mentor Teacher"."""

    have: Decimal
    need: Decimal | None  # None: nothing to be "of" (an incentive without a yearly cap)
    toward: str

    def __str__(self) -> str:
        if self.need is None:
            return f"{_num(self.have)} {self.toward}"
        return f"{_num(self.have)} of {_num(self.need)} {self.toward}"


def evaluate(program: Program, held: Iterable[HeldAward], *, growth_plan: Iterable[UUID] = (),
             memberships: Memberships | None = None, as_of: datetime,
             already: Iterable[RecognitionEntry] = ()) -> list[RecognitionEntry]:
    """The ledger entries that bring the program's ledger for this teacher to what the facts hold now.

    A program not in force on ``as_of`` changes nothing: an ended program neither grants nor takes back.
    Nor does a completion or eligibility program whose stack or pathway the catalog has not described:
    without its credentials nothing can be judged, and a membership that is missing (not yet arrived,
    or dropped by the caller) must not take back designations.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if not program.in_force(day_of(as_of)):
        return []
    if needs_membership(program) and not required_credentials(program, memberships or Memberships()):
        return []
    awards, plan = list(held), frozenset(growth_plan)
    current = holdings(e for e in already if e.program_id == program.program_id)
    wanted = {t.key: t for t in targets(program, awards, growth_plan=plan, memberships=memberships, as_of=as_of)}
    label, unit = program.outcome.label, program.outcome.unit
    changes: list[RecognitionEntry] = []

    def entry(key: str, kind: Literal["grant", "reverse"], year: int, cited: tuple[UUID, ...], reason: str,
              amount: Decimal | None) -> RecognitionEntry:
        return RecognitionEntry(program.program_id, program.version, key, kind, year, cited, reason, amount,
                                pending=program.requires_district_approval and kind == "grant")

    # Targets come in their own order (step 1 before step 10), so grants read in the order they were earned.
    for key, target in wanted.items():
        holding = current.get(key)
        if holding is not None and holding.status == "declined":
            continue  # the district said no to this outcome; asking again on every event would nag
        holds = holding is not None and holding.held
        if isinstance(program.rule, IncentivePerCredential) and target.amount is not None:
            before = holding.award_ids if holding is not None and holds else ()
            owed = target.amount - (holding.amount or Decimal(0) if holding is not None and holds else Decimal(0))
            # A top-up cites the awards it pays for, and a partial reversal those it takes back, so payroll
            # can match each entry to its credentials; the whole year's awards when the change is not one
            # of awards (a cap or an amount changed with the program's version).
            if owed > 0:
                cited = tuple(a for a in target.award_ids if a not in before) or target.award_ids
                changes.append(entry(key, "grant", target.year, cited,
                                     f"{label}: {_num(owed)} {unit} for {target.year}", owed))
            elif owed < 0 and holding is not None:
                lost = tuple(a for a in holding.award_ids if a not in target.award_ids) or holding.award_ids
                why = _why_not(program, awards, lost, plan, as_of)
                changes.append(entry(key, "reverse", target.year, lost, f"{label} for {target.year}: {why}",
                                     -owed))
        elif not holds:
            changes.append(entry(key, "grant", target.year, target.award_ids, _granted(program, key),
                                 target.amount))
    for key, holding in current.items():
        if key not in wanted and holding.held:
            why = _why_not(program, awards, holding.award_ids, plan, as_of)
            changes.append(entry(key, "reverse", holding.year, holding.award_ids, f"{label} ({key}): {why}",
                                 holding.amount))
    return changes


def _granted(program: Program, key: str) -> str:
    step = f" {key.removeprefix('step-')}" if key.startswith("step-") else ""
    return f"{program.outcome.label}{step} earned under {program.name} version {program.version}"


def _why_not(program: Program, held: Sequence[HeldAward], cited: tuple[UUID, ...], plan: frozenset[UUID],
             as_of: datetime) -> str:
    """Why the cited awards no longer earn the outcome, in words a teacher and a district can check."""
    reasons = []
    for award in held:
        if award.award_id not in cited:
            continue
        _, cause = removal(program, award, as_of)
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
    counted = [c for c in supporting(program, held, frozenset(growth_plan), members, as_of) if c.cause is None]
    living = distinct_living(counted, as_of)
    rule, label = program.rule, program.outcome.label
    if isinstance(rule, CountFromSet):
        if not rule.repeats or program.outcome.kind == "designation":
            return Progress(Decimal(min(len(living), rule.count)), Decimal(rule.count), f"for {label}")
        return Progress(Decimal(len(living) % rule.count), Decimal(rule.count), "toward the next step")
    if isinstance(rule, EquivalencyHours):
        hours = min(len(living) * rule.hours_per_credential, rule.target_hours)
        return Progress(hours, rule.target_hours, f"hours toward {label}")
    if isinstance(rule, IncentivePerCredential):
        year = program.year_of(day_of(as_of), rule.year)
        this_year = [t for t in incentives(program, rule, counted) if t.year == year]
        earned = this_year[0].amount or Decimal(0) if this_year else Decimal(0)
        if rule.cap_per_year is None:  # nothing to be "of": the year's amount stands alone
            return Progress(earned, None, f"{program.outcome.unit} in {year} for {label}")
        return Progress(earned, rule.cap_per_year, f"{program.outcome.unit} of the {year} cap for {label}")
    required = required_credentials(program, members)
    have = sum(1 for a in living if a.credential_id in required)
    return Progress(Decimal(have), Decimal(len(required)), f"for {label}")


def _num(amount: Decimal) -> str:
    return format(amount.normalize(), "f")
