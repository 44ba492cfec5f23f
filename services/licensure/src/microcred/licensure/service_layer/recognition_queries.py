"""Who sees what of recognitions: a teacher their own standing and progress, a district its teachers, a state
all of its districts, payroll the incentives owed with the ledger entries behind them.

Read-only use cases over the recognition ledger. Scope follows the credit reports (permissions.report_scope):
a state's admin or an operator reads the whole state or one district, a district admin their own district
whatever they ask, anyone else is refused. Programs are the service's files, handed in by the composition root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from microcred.licensure.domain.model import License
from microcred.licensure.domain.recognition import Memberships, Program, Progress, program_in_force, progress
from microcred.licensure.domain.recognition.programs import (
    CountFromSet,
    Eligibility,
    EquivalencyHours,
    IncentivePerCredential,
)
from microcred.licensure.domain.recognition.replay import distinct_living, required_credentials, supporting
from microcred.licensure.domain.recognition.standing import IncentiveLine, Standing, incentive_lines, standings
from microcred.licensure.domain.recognition.summary import options_summary, rule_summary
from microcred.licensure.service_layer.permissions import report_scope
from microcred.licensure.service_layer.recognitions import applicable, held_award
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.auth import Principal
from microcred.runtime.errors import NotFound

HolderStatus = Literal["granted", "pending", "declined"]


@dataclass(frozen=True)
class ProgramInWords:
    program: Program
    summary: str
    options: list[str]


@dataclass(frozen=True)
class MyProgram:
    """One program that applies to the teacher: what they hold under it and how far they are."""

    about: ProgramInWords
    held: list[Standing]
    progress: Progress
    counted: list[tuple[UUID, str]]  # credentials of theirs that count now, by name
    missing: list[tuple[UUID, str]]  # credentials the rule requires that they do not hold yet
    could_count: list[tuple[UUID, str]]  # a set rule's named credentials they could still earn


@dataclass(frozen=True)
class Holder:
    standing: Standing
    program: Program
    licenses: list[License]  # the teacher's licenses of the program's state


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _named(ids: Iterable[UUID], names: dict[UUID, str]) -> list[tuple[UUID, str]]:
    return sorted(((i, names.get(i, "a credential licensure has not heard of yet")) for i in set(ids)),
                  key=lambda pair: (pair[1].casefold(), str(pair[0])))


def _set_members(program: Program, memberships: Memberships) -> frozenset[UUID]:
    """The credentials a set rule names (listed, or of its stacks); none for "any credential"."""
    rule = program.rule
    if not isinstance(rule, CountFromSet | IncentivePerCredential | EquivalencyHours):
        return frozenset()
    found = set(rule.from_set.credentials)
    for stack in rule.from_set.stacks:
        found |= memberships.stacks.get(stack, frozenset())
    return frozenset(found)


def _names_in(programs: Iterable[Program], memberships: Memberships) -> set[UUID]:
    ids: set[UUID] = set()
    for program in programs:
        ids |= required_credentials(program, memberships) | _set_members(program, memberships)
        if isinstance(program.rule, Eligibility):  # named even while its stacks are not described yet
            ids |= set(program.rule.credentials)
    return ids


async def my_recognitions(principal: Principal, uow: LicensureUnitOfWork, programs: Sequence[Program], *,
                          now: datetime | None = None) -> list[MyProgram]:
    """Every program in force that applies to the signed-in teacher's licenses, with their standing in it."""
    now = _now(now)
    async with uow:
        # Read-only, statement by statement as at READ COMMITTED before: a teacher's standing is re-read on
        # each visit, and what one read misses the next shows.
        await uow.without_transaction()
        licenses = await uow.licenses.of_teacher(principal.subject)
        in_force = applicable(programs, licenses, now)
        if not in_force:
            return []
        awards = await uow.awards.of_teacher(principal.subject)
        changes = await uow.awards.status_changes_of([a.award_id for a in awards])
        held = [held_award(a, changes[a.award_id]) for a in awards]
        members = await uow.memberships.current()
        entries = await uow.recognition_reports.of_teacher(principal.subject)
        names = await uow.recognition_reports.credential_names(
            _names_in(in_force, members) | {a.credential_id for a in awards})
    found = []
    for program in in_force:
        plan = {c for lic in licenses if lic.state == program.state
                and program.district in (None, lic.district) for c in lic.growth_plan}
        counting = supporting(program, held, frozenset(plan), members, now)
        living = {a.credential_id for a in distinct_living([c for c in counting if c.cause is None], now)}
        required = required_credentials(program, members)
        candidates = _set_members(program, members)
        found.append(MyProgram(
            about=ProgramInWords(program, rule_summary(program, members, names), options_summary(program)),
            held=[s for s in standings(entries) if s.program_id == program.program_id],
            progress=progress(program, held, growth_plan=plan, memberships=members, as_of=now),
            counted=_named(living, names),
            missing=_named(required - living, names),
            could_count=_named(candidates - living, names),
        ))
    return found


async def programs_in_words(uow: LicensureUnitOfWork, programs: Sequence[Program], state: str | None,
                            district: str | None, *, now: datetime | None = None) -> list[ProgramInWords]:
    """The version in force of every program (of a state; of a district: its own and its state's)."""
    day = _now(now).date()
    current = [p for p in (program_in_force(programs, i, day) for i in sorted({p.program_id for p in programs}))
               if p is not None and (state is None or p.state == state)
               and (district is None or p.district in (None, district))]
    async with uow:
        await uow.without_transaction()  # the names describe the memberships; a name never changes its id
        members = await uow.memberships.current()
        names = await uow.recognition_reports.credential_names(_names_in(current, members))
    return [ProgramInWords(p, rule_summary(p, members, names), options_summary(p)) for p in current]


def _program_of(programs: Sequence[Program], state: str, program_id: str, now: datetime) -> Program:
    """The version in force, or, for a program that has ended, its last version: it still has holders."""
    versions = [p for p in programs if p.program_id == program_id and p.state == state]
    if not versions:
        raise NotFound(f"{state} has no recognition program {program_id}", code="program_not_found")
    return program_in_force(versions, program_id, now.date()) or max(versions, key=lambda p: p.version)


async def _licenses(uow: LicensureUnitOfWork, state: str, teacher_ids: set[str]) -> dict[str, list[License]]:
    licenses: dict[str, list[License]] = {}
    for license in await uow.recognition_reports.licenses_of(state, teacher_ids):
        licenses.setdefault(license.teacher_id, []).append(license)
    return licenses


async def holders(state: str, program_id: str, district: str | None, status: HolderStatus, principal: Principal,
                  uow: LicensureUnitOfWork, programs: Sequence[Program], *, limit: int, offset: int,
                  now: datetime | None = None) -> tuple[int, list[Holder]]:
    """The teachers whose outcome of the program has ``status`` now: the eligibility list of an eligibility
    program, the roster of a designation. The total across pages, and the page, longest held first."""
    scope = report_scope(principal, state, district)
    program = _program_of(programs, state, program_id, _now(now))
    if program.district is not None and scope is not None and scope != program.district:
        return 0, []  # another district's program: none of this district's teachers can hold it
    async with uow:
        # The total and the page are counted from the one statement that reads the entries.
        await uow.without_transaction()
        entries = await uow.recognition_reports.of_programs(state, [program_id], scope)
        found = sorted((s for s in standings(entries) if s.holding.status == status),
                       key=lambda s: (s.since, s.teacher_id, s.holding.key))
        page = found[offset:offset + limit]
        licenses = await _licenses(uow, state, {s.teacher_id for s in page})
    return len(found), [Holder(s, program, licenses.get(s.teacher_id, [])) for s in page]


async def incentive_report(state: str, year: int, district: str | None, principal: Principal,
                           uow: LicensureUnitOfWork, programs: Sequence[Program]
                           ) -> list[tuple[IncentiveLine, list[License]]]:
    """One line per teacher, incentive program and year, with what is owed and every entry behind it."""
    scope = report_scope(principal, state, district)
    incentive_ids = {p.program_id for p in programs if p.state == state and p.outcome.kind == "incentive"
                     and (scope is None or p.district in (None, scope))}
    async with uow:
        await uow.without_transaction()  # the lines from one statement; the licenses describe them
        entries = await uow.recognition_reports.of_programs(state, incentive_ids, scope, year)
        lines = incentive_lines(standings(entries))
        licenses = await _licenses(uow, state, {line.teacher_id for line in lines})
    return [(line, licenses.get(line.teacher_id, [])) for line in lines]
