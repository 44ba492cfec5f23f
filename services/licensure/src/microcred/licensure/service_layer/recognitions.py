"""Recognition use cases: re-evaluating a teacher's standing in the programs of their licenses.

Called inside the transaction of whatever changed the facts (an award, a revocation, a suspension, a
reinstatement, a license registered, a growth plan changed), and by the review queue for what time changes
or a stack or pathway changed (service_layer.recognition_reviews), under the teacher's lock, so the entries it
appends and the RecognitionGranted / RecognitionReversed events it puts in the outbox commit with that change or not at all.
Each of those events is also a record of the state's feed for every license the program applies to (the topic
licensure.state.<XX> and the webhooks of the state, and of the license's district), written by :func:`announce`
in the same transaction.

Idempotent and order-free by construction: :func:`~microcred.licensure.domain.recognition.evaluate` diffs what
the facts hold now against the ledger, so a redelivered event, or events in another order, append nothing
more once the ledger agrees with the facts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
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
    next_change,
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


def owned(programs: Sequence[Program], licenses: Iterable[License]) -> list[Program]:
    """Every version, in force or not, of the programs of the teacher's states and districts: a version
    coming into force or ending changes the teacher's standing by time alone."""
    owners = {(lic.state, lic.district) for lic in licenses}
    states = {state for state, _ in owners}
    return [p for p in programs if p.state in states and (p.district is None or (p.state, p.district) in owners)]


def _plan(program: Program, licenses: Iterable[License]) -> set[UUID]:
    """The growth plans of the licenses the program is for: the state's, or the district's alone."""
    return {c for lic in licenses if lic.state == program.state
            and program.district in (None, lic.district) for c in lic.growth_plan}


async def reevaluate(uow: LicensureUnitOfWork, teacher_id: str, programs: Sequence[Program], *,
                     correlation_id: UUID, causation_id: UUID | None, now: datetime | None = None,
                     memberships: Memberships | None = None, licenses: Sequence[License] | None = None,
                     status_changes: Mapping[UUID, list[StatusChange]] | None = None) -> list[RecognitionEntry]:
    """Bring the teacher's recognition ledger to what their awards hold in every program that applies to them,
    and set when time alone may next change that (the review queue). The caller holds the teacher's lock
    and commits.

    ``licenses`` (the teacher's) and ``status_changes`` (of some of their awards) are what the caller already
    read in this transaction: written only under the teacher's lock, they are the same read before the review
    row is held as after it, unlike the memberships, which are read here after it."""
    if not programs:
        return []
    now = now or datetime.now(UTC)
    held_row = await uow.reviews.hold(teacher_id)  # before any fact is read: see adapters.recognition_reviews
    if licenses is None:
        licenses = await uow.licenses.of_teacher(teacher_id)
    theirs = owned(programs, licenses)
    if not theirs:
        await uow.reviews.schedule(teacher_id, None, held=held_row)
        return []
    in_force = applicable(theirs, licenses, now)
    awards = await uow.awards.of_teacher(teacher_id)
    changes = dict(status_changes or {})
    changes |= await uow.awards.status_changes_of([a.award_id for a in awards if a.award_id not in changes])
    held = [held_award(a, changes[a.award_id]) for a in awards]
    members = memberships if memberships is not None else await uow.memberships.current()
    already = await uow.recognitions.of_teacher(teacher_id)
    appended: list[RecognitionEntry] = []
    for program in in_force:
        plan = _plan(program, licenses)
        for entry in evaluate(program, held, growth_plan=plan, memberships=members, as_of=now, already=already):
            await _append(uow, teacher_id, program, entry, correlation_id=correlation_id, causation_id=causation_id,
                          licenses=licenses)
            appended.append(entry)
    due = [next_change(p, held, growth_plan=_plan(p, licenses), memberships=members, as_of=now) for p in theirs]
    await uow.reviews.schedule(teacher_id, min((d for d in due if d is not None), default=None), held=held_row)
    return appended


async def _append(uow: LicensureUnitOfWork, teacher_id: str, program: Program, entry: RecognitionEntry, *,
                  correlation_id: UUID, causation_id: UUID | None, licenses: Sequence[License] | None = None) -> None:
    entry_id = uuid4()
    await uow.recognitions.append(StoredEntry(entry_id, teacher_id, program.state, program.district, entry))
    log.info("%s %s of %s v%d for teacher %s: %s", entry.kind, entry.key, program.program_id, program.version,
             teacher_id, entry.reason)
    # A district's approval grants the pending outcome for good, its decline takes it back: the same two
    # events and feed records, with pending false, so a reader of either needs no third to know where the
    # teacher stands.
    await announce(uow, teacher_id, program, entry_id, entry,
                   "granted" if entry.kind in ("grant", "approve") else "reversed",
                   correlation_id=correlation_id, causation_id=causation_id, licenses=licenses)


async def announce(uow: LicensureUnitOfWork, teacher_id: str, program: Program, entry_id: UUID,
                   entry: RecognitionEntry, kind: Literal["granted", "reversed"], *,
                   correlation_id: UUID, causation_id: UUID | None,
                   licenses: Sequence[License] | None = None) -> None:
    """Tell a ledger entry: its RecognitionGranted or RecognitionReversed event, and a record of the state's feed
    for each license of the teacher the program applies to (in its state, and its district if it has one), to
    the state's topic and to the webhooks of the state and of the license's district. The caller commits.

    ``kind`` is what the entry means to a reader, which for a district's decision differs from the entry's own
    kind: an approval is ``granted`` (with ``entry.pending`` false), a decline ``reversed``. ``licenses``: the
    teacher's, when the caller read them in this transaction under the teacher's lock."""
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
    if licenses is None:
        licenses = await uow.licenses.of_teacher(teacher_id)
    for license in licenses:
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


async def record_decision(uow: LicensureUnitOfWork, teacher_id: str, program: Program, entry: RecognitionEntry, *,
                          correlation_id: UUID) -> None:
    """A district's approval or decline (service_layer.recognition_decisions): appended and published as
    every entry is, so whatever else reads the ledger's events hears decisions too."""
    await _append(uow, teacher_id, program, entry, correlation_id=correlation_id, causation_id=None)


async def record_membership(uow: LicensureUnitOfWork, kind: CollectionKind, collection_id: UUID, revision: int,
                            active: bool, credential_ids: Iterable[UUID], programs: Sequence[Program], *,
                            now: datetime | None = None) -> int:
    """Keep the stack's or pathway's latest revision; enqueue every teacher holding a credential it held
    before or holds now for review, due now. The caller commits. The number of teachers enqueued.

    Not re-evaluated here: a stack held by fifty thousand teachers would hold this transaction (and the
    consumer) for all of them. The review queue drains them in bounded batches, each under the teacher's
    lock, and an evaluation is idempotent, so a teacher re-evaluated meanwhile by an award loses nothing.
    """
    members = frozenset(credential_ids) if active else frozenset()
    previous = await uow.memberships.apply(kind, collection_id, revision, active, members)
    if previous is None or not programs:
        return 0
    return await uow.reviews.enqueue_holders(previous | members, now or datetime.now(UTC))
