"""A district's decision on a recognition waiting for it: the pending list, and approve or decline.

A program with ``requires_district_approval`` grants its outcome pending (domain.recognition.evaluation);
the program's district approves it (granted for good) or declines it with a reason (taken back, and never
asked again). Who may: the program's own district admin, an admin of its state, an operator. Anyone else
is answered as if the outcome did not exist (404), except the teacher it is for, who may see their own
recognitions and so is told they may not decide them (403), as licensure answers for credits.

Each decision is an entry of the recognition ledger, appended through recognitions.record_decision (its _append) like every
grant and reversal, so it is published (RecognitionGranted with pending false for an approval,
RecognitionReversed naming the decline for a decline) the same way and in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from microcred.licensure.domain.recognition import Holding, Program, RecognitionEntry, decide, holdings
from microcred.licensure.service_layer import recognitions
from microcred.licensure.service_layer.permissions import may_administer, report_scope
from microcred.licensure.service_layer.unit_of_work import LicensureUnitOfWork
from microcred.runtime.api_types import RequestModel, Text
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Forbidden, NotFound


class RecognitionDecision(RequestModel):
    """Approve or decline one pending outcome: the teacher's, of one program, under one key ("step-1")."""

    teacher_id: Annotated[Text, Field(min_length=1, max_length=200)]
    program_id: Annotated[Text, Field(min_length=1, max_length=80)]
    key: Annotated[Text, Field(min_length=1, max_length=80)]
    approve: bool
    reason: Annotated[Text, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _a_decline_says_why(self) -> RecognitionDecision:
        if not self.approve and not self.reason.strip():
            raise ValueError("a decline needs a reason: the teacher and the state read it")
        return self


@dataclass(frozen=True)
class CitedAward:
    award_id: str
    credential_name: str | None  # None for an award licensure no longer finds (it never forgets one, though)


@dataclass(frozen=True)
class PendingRecognition:
    teacher_id: str
    license_numbers: tuple[str, ...]
    program: Program
    key: str
    amount: Decimal | None
    year: int
    awards: tuple[CitedAward, ...]
    since: datetime


def _program(programs: Sequence[Program], program_id: str, version: int) -> Program | None:
    return next((p for p in programs if p.program_id == program_id and p.version == version), None)


def _pending_since(entries: Sequence[tuple[RecognitionEntry, datetime]]) -> dict[str, tuple[Holding, datetime]]:
    """Each key pending after its entries, with when it last became pending (a top-up keeps that time)."""
    since: dict[str, datetime] = {}
    for i, (entry, at) in enumerate(entries):
        before = holdings(e for e, _ in entries[:i] if e.key == entry.key).get(entry.key)
        if entry.kind == "grant" and entry.pending and (before is None or before.status != "pending"):
            since[entry.key] = at
    now = holdings(e for e, _ in entries)
    return {key: (h, since[key]) for key, h in now.items() if h.status == "pending" and key in since}


async def pending_recognitions(state: str, district: str | None, principal: Principal, uow: LicensureUnitOfWork,
                               programs: Sequence[Program], *, limit: int, offset: int) -> list[PendingRecognition]:
    """The outcomes waiting for a district's decision, oldest first: a state admin's (or an operator's) for
    any or all districts of the state, a district admin's for their own district whatever they ask."""
    scope = report_scope(principal, state, district)
    found: list[PendingRecognition] = []
    async with uow:
        # What waits is one statement; the awards and licenses that describe it are read after, as they were
        # at READ COMMITTED inside a transaction.
        await uow.without_transaction()
        rows = await uow.recognitions.awaiting_decision(state, scope)
        ledgers: dict[tuple[str, str], list[tuple[RecognitionEntry, datetime]]] = {}
        for stored, at in rows:
            ledgers.setdefault((stored.teacher_id, stored.entry.program_id), []).append((stored.entry, at))
        for (teacher_id, _), ledger in ledgers.items():
            for key, (holding, since) in _pending_since(ledger).items():
                grant = next(e for e, _ in reversed(ledger) if e.key == key and e.kind == "grant")
                program = _program(programs, grant.program_id, grant.program_version)
                if program is None:
                    continue  # a version no longer shipped: nobody could decide it under its terms anyway
                awards = {a.award_id: a for a in await uow.awards.of_ids(holding.award_ids)}
                licenses = [lic for lic in await uow.licenses.of_teacher(teacher_id) if lic.state == state
                            and program.district in (None, lic.district)]
                found.append(PendingRecognition(
                    teacher_id=teacher_id, license_numbers=tuple(sorted(lic.license_number for lic in licenses)),
                    program=program, key=key, amount=holding.amount, year=holding.year,
                    awards=tuple(CitedAward(str(i), awards[i].credential_name if i in awards else None)
                                 for i in holding.award_ids),
                    since=since,
                ))
    found.sort(key=lambda p: (p.since, p.teacher_id, p.program.program_id, p.key))
    return found[offset:offset + limit]


def _may_decide(principal: Principal, program: Program) -> bool:
    return may_administer(principal, program.state) or (
        principal.has(Role.DISTRICT_ADMIN) and program.state in principal.states
        and program.district is not None and principal.district == program.district)


async def decide_recognition(command: RecognitionDecision, principal: Principal, uow: LicensureUnitOfWork,
                             programs: Sequence[Program]) -> RecognitionEntry:
    """Approve or decline the pending outcome; the entry appended (and published)."""
    missing = NotFound(f"{command.teacher_id} has no recognition {command.key} of {command.program_id}",
                       code="recognition_not_found")
    async with uow:
        await uow.licenses.lock_teacher(command.teacher_id)
        entries = [e for e in await uow.recognitions.of_teacher(command.teacher_id)
                   if e.program_id == command.program_id]
        grant = next((e for e in reversed(entries) if e.key == command.key and e.kind == "grant"), None)
        program = None if grant is None else _program(programs, grant.program_id, grant.program_version)
        if program is None:
            raise missing
        if not _may_decide(principal, program):
            if principal.has(Role.TEACHER) and principal.subject == command.teacher_id:
                raise Forbidden("the program's district, its state or an operator decides a recognition",
                                code="not_the_district")
            raise missing
        by = f" (by {principal.subject})"
        reason = command.reason.strip() or f"approved by {program.district or program.state}"
        entry = decide(program, entries, command.key, approve=command.approve, reason=reason + by)
        await recognitions.record_decision(uow, command.teacher_id, program, entry,
                                           correlation_id=current_correlation_id())
        await uow.commit()
    return entry
