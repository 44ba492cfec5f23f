"""Recognition use cases: re-evaluating a teacher's standing in the programs of their licenses.

Called inside the transaction of whatever changed the facts (an award, a revocation, a suspension, a
reinstatement, a stack or pathway changed), under the teacher's lock, so the entries it appends and the
RecognitionGranted / RecognitionReversed events it puts in the outbox commit with that change or not at all.
Each of those events is also a record of the state's feed for every license the program applies to (the topic
licensure.state.<XX> and the webhooks of the state, and of the license's district), written by :func:`announce`
in the same transaction.

Idempotent and order-free by construction: :func:`~microcred.licensure.domain.recognition.evaluate` diffs what
the facts hold now against the ledger, so a redelivered event, or events in another order, append nothing
more once the ledger agrees with the facts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from microcred.events import RecognitionGranted, RecognitionOutcome, RecognitionReversed, StateFeedRecord
from microcred.licensure.adapters.recognition_repository import CollectionKind, StoredEntry
from microcred.licensure.domain.model import AwardRecord, License, StatusChange, standing
from microcred.licensure.domain.recognition import (
    HeldAward,
    Memberships,
    Program,
    RecognitionEntry,
    evaluate,
    program_in_force,
)
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork

log = logging.getLogger(__name__)


def applicable(programs: Sequence[Program], licenses: Iterable[License], on: datetime) -> list[Program]:
    """The version in force of every program owned by a state, or a district, of the teacher's licenses."""
    owners = {(lic.state, lic.district) for lic in licenses}
    states = {state for state, _ in owners}
    found = []
    for program_id in sorted({p.program_id for p in programs}):
        program = program_in_force(programs, program_id, on.date())
        if program is None or program.state not in states:
            continue
        if program.district is None or (program.state, program.district) in owners:
            found.append(program)
    return found


def held_award(award: AwardRecord, changes: list[StatusChange]) -> HeldAward:
    """The award on its own clock: its standing now is the change that decides it (a revocation is final)."""
    current = standing(changes)
    if current is None or current.status == "reinstated":
        return HeldAward(award.award_id, award.credential_id, award.issued_at, valid_until=award.valid_until)
    return HeldAward(award.award_id, award.credential_id, award.issued_at, standing=current.status,
                     standing_since=current.changed_at, valid_until=award.valid_until)


async def reevaluate(uow: LicensureUnitOfWork, teacher_id: str, programs: Sequence[Program], *,
                     correlation_id: UUID, causation_id: UUID | None, now: datetime | None = None,
                     memberships: Memberships | None = None) -> list[RecognitionEntry]:
    """Bring the teacher's recognition ledger to what their awards hold in every program that applies to them.
    The caller holds the teacher's lock and commits."""
    now = now or datetime.now(UTC)
    licenses = await uow.licenses.of_teacher(teacher_id)
    in_force = applicable(programs, licenses, now)
    if not in_force:
        return []
    awards = await uow.awards.of_teacher(teacher_id)
    held = [held_award(a, await uow.awards.status_changes(a.award_id)) for a in awards]
    members = memberships if memberships is not None else await uow.memberships.current()
    already = await uow.recognitions.of_teacher(teacher_id)
    appended: list[RecognitionEntry] = []
    for program in in_force:
        # The growth plans of the licenses the program is for: the state's, or the district's alone.
        plan = {c for lic in licenses if lic.state == program.state
                and program.district in (None, lic.district) for c in lic.growth_plan}
        for entry in evaluate(program, held, growth_plan=plan, memberships=members, as_of=now, already=already):
            await _append(uow, teacher_id, program, entry, correlation_id=correlation_id, causation_id=causation_id)
            appended.append(entry)
    return appended


async def _append(uow: LicensureUnitOfWork, teacher_id: str, program: Program, entry: RecognitionEntry, *,
                  correlation_id: UUID, causation_id: UUID | None) -> None:
    entry_id = uuid4()
    await uow.recognitions.append(StoredEntry(entry_id, teacher_id, program.state, program.district, entry))
    log.info("%s %s of %s v%d for teacher %s: %s", entry.kind, entry.key, program.program_id, program.version,
             teacher_id, entry.reason)
    # A district's approval or decline is announced by its own use case, through announce too.
    if entry.kind in ("grant", "reverse"):
        await announce(uow, teacher_id, program, entry_id, entry, "granted" if entry.kind == "grant" else "reversed",
                       correlation_id=correlation_id, causation_id=causation_id)


async def announce(uow: LicensureUnitOfWork, teacher_id: str, program: Program, entry_id: UUID,
                   entry: RecognitionEntry, kind: Literal["granted", "reversed"], *,
                   correlation_id: UUID, causation_id: UUID | None) -> None:
    """Tell a ledger entry: its RecognitionGranted or RecognitionReversed event, and a record of the state's feed
    for each license of the teacher the program applies to (in its state, and its district if it has one), to
    the state's topic and to the webhooks of the state and of the license's district. The caller commits.

    ``kind`` is what the entry means to a reader, which for a district's decision differs from the entry's own
    kind: an approval is ``granted`` (with ``entry.pending`` false), a decline ``reversed``."""
    event_type = RecognitionGranted if kind == "granted" else RecognitionReversed
    uow.publish(event_type(
        correlation_id=correlation_id, causation_id=causation_id, states=(program.state,), entry_id=entry_id,
        teacher_id=teacher_id, program_id=program.program_id, program_version=program.version, state=program.state,
        district=program.district, outcome_kind=program.outcome.kind, outcome_label=program.outcome.label,
        amount=entry.amount, unit=program.outcome.unit, key=entry.key, year=entry.year, award_ids=entry.award_ids,
        reason=entry.reason, pending=entry.pending,
    ))
    outcome = RecognitionOutcome(
        entry_id=entry_id, program_id=program.program_id, program_version=program.version,
        outcome_kind=program.outcome.kind, outcome_label=program.outcome.label, district=program.district,
        amount=entry.amount, unit=program.outcome.unit, key=entry.key, year=entry.year, award_ids=entry.award_ids,
        pending=entry.pending, reason=entry.reason,
    )
    for license in await uow.licenses.of_teacher(teacher_id):
        if license.state != program.state or program.district not in (None, license.district):
            continue
        record = StateFeedRecord(
            correlation_id=correlation_id, causation_id=causation_id, states=(license.state,),
            record_type=f"recognition_{kind}", state=license.state, district=license.district,
            license_id=license.license_id, license_number=license.license_number,
            license_type=license.license_type, teacher_id=teacher_id, recognition=outcome,
        )
        uow.publish(record)
        await uow.webhooks.enqueue(record)


async def record_membership(uow: LicensureUnitOfWork, kind: CollectionKind, collection_id: UUID, revision: int,
                            active: bool, credential_ids: Iterable[UUID], programs: Sequence[Program], *,
                            correlation_id: UUID, causation_id: UUID) -> int:
    """Keep the stack's or pathway's latest revision; re-evaluate every teacher holding a credential it
    held before or holds now. The caller commits. The number of teachers re-evaluated."""
    members = frozenset(credential_ids) if active else frozenset()
    previous = await uow.memberships.apply(kind, collection_id, revision, active, members)
    if previous is None or not programs:
        return 0
    teachers = await uow.memberships.teachers_holding(previous | members)
    current = await uow.memberships.current()
    for teacher_id in teachers:
        await uow.licenses.lock_teacher(teacher_id)
        await reevaluate(uow, teacher_id, programs, correlation_id=correlation_id, causation_id=causation_id,
                         memberships=current)
    return len(teachers)
