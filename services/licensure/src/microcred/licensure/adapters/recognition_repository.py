"""The recognition ledger and the catalog's stacks and pathways, as the recognition use cases read them.

Core statements on the tables, as in adapters/repository.py: every award re-evaluates the teacher's
recognitions, and mapped rows built only to be copied into domain objects cost more than their statements.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.licensure.adapters.orm import MembershipRow, RecognitionEntryRow
from microcred.licensure.adapters.statements import AWARDS as _AWARDS
from microcred.licensure.domain.recognition import Memberships, RecognitionEntry

CollectionKind = Literal["stack", "pathway"]

_ENTRIES = cast(sa.Table, RecognitionEntryRow.__table__)
_MEMBERSHIPS = cast(sa.Table, MembershipRow.__table__)

# What every award's re-evaluation sends, built once so each cache key is computed once (as in
# adapters/statements.py); the values are bound at execution.
_ENTRY_COLUMNS = ("entry_id", "teacher_id", "program_id", "program_version", "state", "district", "key", "kind",
                  "year", "award_ids", "reason", "amount", "pending")
_INSERT_ENTRY = insert(_ENTRIES).values({column: sa.bindparam(column) for column in _ENTRY_COLUMNS})
_SELECT_ENTRIES_OF_TEACHER = sa.select(_ENTRIES).where(_ENTRIES.c.teacher_id == sa.bindparam("teacher_id")).order_by(
    _ENTRIES.c.seq)
_SELECT_ACTIVE_MEMBERSHIPS = sa.select(_MEMBERSHIPS).where(_MEMBERSHIPS.c.active)


@dataclass(frozen=True)
class StoredEntry:
    """An entry as the ledger keeps it: the domain's entry plus its id, teacher and owner."""

    entry_id: UUID
    teacher_id: str
    state: str
    district: str | None
    entry: RecognitionEntry


class RecognitionRepository:
    """Append and read; there is deliberately no update or delete."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, stored: StoredEntry) -> None:
        e = stored.entry
        # Sent now, not at a flush: the next read of the ledger in this transaction sees it, in order.
        await self.session.execute(_INSERT_ENTRY, {
            "entry_id": stored.entry_id, "teacher_id": stored.teacher_id, "program_id": e.program_id,
            "program_version": e.program_version, "state": stored.state, "district": stored.district, "key": e.key,
            "kind": e.kind, "year": e.year, "award_ids": [str(a) for a in e.award_ids], "reason": e.reason,
            "amount": e.amount, "pending": e.pending,
        })

    async def of_teacher(self, teacher_id: str) -> list[RecognitionEntry]:
        rows = await self.session.execute(_SELECT_ENTRIES_OF_TEACHER, {"teacher_id": teacher_id})
        return [self._entry(row) for row in rows]


    async def awaiting_decision(self, state: str, district: str | None) -> list[tuple[StoredEntry, datetime]]:
        """The ledgers, in order and with when each entry was made, of every (teacher, program) of the state
        (of one district, if named) that ever had a pending grant: what a district's pending list is read
        from. Only programs with district approval have pending grants, so this is a district's own few."""
        pending = sa.select(_ENTRIES.c.teacher_id, _ENTRIES.c.program_id).where(
            _ENTRIES.c.pending, _ENTRIES.c.state == state)
        if district is not None:
            pending = pending.where(_ENTRIES.c.district == district)
        query = (sa.select(_ENTRIES)
                 .where(sa.tuple_(_ENTRIES.c.teacher_id, _ENTRIES.c.program_id).in_(pending.distinct()))
                 .order_by(_ENTRIES.c.teacher_id, _ENTRIES.c.program_id, _ENTRIES.c.seq))
        return [(StoredEntry(row.entry_id, row.teacher_id, row.state, row.district, self._entry(row)), row.created_at)
                for row in await self.session.execute(query)]

    @staticmethod
    def _entry(row: sa.Row[Any]) -> RecognitionEntry:
        return RecognitionEntry(
            program_id=row.program_id, program_version=row.program_version, key=row.key,
            kind=row.kind,  # type: ignore[arg-type]
            year=row.year, award_ids=tuple(UUID(a) for a in row.award_ids), reason=row.reason,
            amount=row.amount, pending=row.pending,
        )


class MembershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def apply(self, kind: CollectionKind, collection_id: UUID, revision: int, active: bool,
                    credential_ids: Collection[UUID]) -> frozenset[UUID] | None:
        """Keep this revision if it is the latest heard; the credentials it held before, or None when a
        later (or the same) revision is already in place and this one changes nothing."""
        before = (await self.session.execute(
            sa.select(_MEMBERSHIPS).where(_MEMBERSHIPS.c.kind == kind, _MEMBERSHIPS.c.collection_id == collection_id)
            .with_for_update())).first()
        if before is not None and before.revision >= revision:
            return None
        previous = frozenset() if before is None or not before.active else frozenset(
            UUID(c) for c in before.credential_ids)
        values = {"revision": revision, "active": active, "credential_ids": sorted(str(c) for c in credential_ids)}
        await self.session.execute(
            insert(_MEMBERSHIPS).values(kind=kind, collection_id=collection_id, **values)
            .on_conflict_do_update(index_elements=[_MEMBERSHIPS.c.kind, _MEMBERSHIPS.c.collection_id], set_=values,
                                   where=_MEMBERSHIPS.c.revision < revision)
        )
        return previous

    async def current(self) -> Memberships:
        """Every active stack and pathway: a few hundred rows at most, read whole per evaluation."""
        stacks: dict[UUID, frozenset[UUID]] = {}
        pathways: dict[UUID, frozenset[UUID]] = {}
        for row in await self.session.execute(_SELECT_ACTIVE_MEMBERSHIPS):
            (stacks if row.kind == "stack" else pathways)[row.collection_id] = frozenset(
                UUID(c) for c in row.credential_ids)
        return Memberships(stacks=stacks, pathways=pathways)

    async def teachers_holding(self, credential_ids: Collection[UUID]) -> list[str]:
        if not credential_ids:
            return []
        query = sa.select(_AWARDS.c.teacher_id).where(_AWARDS.c.credential_id.in_(list(credential_ids))).distinct()
        return sorted(await self.session.scalars(query))
