"""When a teacher's standing can next change by time alone, with no event to say so.

Awards, revocations, suspensions, reinstatements, licenses and growth plans arrive as facts and re-evaluate
the teacher at once. Time changes standing too: an award's ``valid_until`` passes, a program's validity
window ages an award out, a step held back by ``max_per_year`` comes due in the next year, a program version
comes into force or ends. :func:`next_change` gives the earliest such instant after ``as_of`` for one
program, so licensure can re-evaluate the teacher then (the recognition review queue) rather than sweep
every teacher every day.

Early is harmless (an evaluation on unchanged facts appends nothing), late is a missed change; so where a
precise answer would need the whole evaluation, an instant that *may* change something is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from microcred.licensure.domain.recognition.programs import CountFromSet, Program
from microcred.licensure.domain.recognition.replay import HeldAward, Memberships, add_months, day_of, targets


def start_of(day: date) -> datetime:
    """A program's dates are UTC days (as the credit ledger dates an award): the instant the day begins."""
    return datetime.combine(day, time(), tzinfo=UTC)


def next_year_starts(program: Program, rule: CountFromSet, as_of: datetime) -> datetime:
    """The first instant of the year after the one ``as_of`` counts in, calendar or program year."""
    year = program.year_of(day_of(as_of), rule.year) + 1
    if rule.year == "calendar":
        return start_of(date(year, 1, 1))
    month, first = (int(part) for part in program.program_year_starts.split("-"))
    return start_of(date(year, month, first))


def next_change(program: Program, held: Iterable[HeldAward], *, growth_plan: Iterable[UUID] = (),
                memberships: Memberships | None = None, as_of: datetime) -> datetime | None:
    """The earliest instant after ``as_of`` at which the program's outcomes for the teacher may change with
    no new fact; None when only a new fact can change them. ``program`` is any version of a program of the
    teacher's state or district, in force or not (one coming into force is such an instant)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    awards = list(held)
    edges = [start_of(program.effective_from)]
    if program.effective_to is not None:
        edges.append(start_of(program.effective_to + timedelta(days=1)))  # effective_to is its last day
    for award in awards:
        # An award dated ahead of the clock, or a change taking effect later, counts from its own time.
        edges += [award.issued_at, *(t for t in (award.valid_until, award.standing_since) if t is not None)]
        if program.validity_months is not None:
            edges.append(add_months(award.issued_at, program.validity_months))
    rule = program.rule
    if isinstance(rule, CountFromSet) and rule.max_per_year is not None and program.in_force(day_of(as_of)):
        # A step over the year's cap waits for the next year: due then if the next year holds more steps.
        turn = next_year_starts(program, rule, as_of)
        plan = frozenset(growth_plan)
        now = targets(program, awards, growth_plan=plan, memberships=memberships, as_of=as_of)
        then = targets(program, awards, growth_plan=plan, memberships=memberships, as_of=turn)
        if len(then) > len(now):
            edges.append(turn)
    return min((t for t in edges if t > as_of), default=None)
