"""The recognition ledger and the catalog's stacks and pathways, as the recognition use cases read them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.licensure.adapters.orm import AwardRow, MembershipRow, RecognitionEntryRow
from microcred.licensure.domain.recognition import Memberships, RecognitionEntry

CollectionKind = Literal["stack", "pathway"]


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
        self.session.add(RecognitionEntryRow(
            entry_id=stored.entry_id, teacher_id=stored.teacher_id, program_id=e.program_id,
            program_version=e.program_version, state=stored.state, district=stored.district, key=e.key,
            kind=e.kind, year=e.year, award_ids=[str(a) for a in e.award_ids], reason=e.reason, amount=e.amount,
            pending=e.pending,
        ))
        await self.session.flush()  # the next read of the ledger in this transaction sees it, in order

    async def of_teacher(self, teacher_id: str) -> list[RecognitionEntry]:
        query = sa.select(RecognitionEntryRow).where(RecognitionEntryRow.teacher_id == teacher_id).order_by(
            RecognitionEntryRow.seq)
        return [
            RecognitionEntry(
                program_id=row.program_id, program_version=row.program_version, key=row.key,
                kind=row.kind,  # type: ignore[arg-type]
                year=row.year, award_ids=tuple(UUID(a) for a in row.award_ids), reason=row.reason,
                amount=row.amount, pending=row.pending,
            )
            for row in await self.session.scalars(query)
        ]


    async def awaiting_decision(self, state: str, district: str | None) -> list[tuple[StoredEntry, datetime]]:
        """The ledgers, in order and with when each entry was made, of every (teacher, program) of the state
        (of one district, if named) that ever had a pending grant: what a district's pending list is read
        from. Only programs with district approval have pending grants, so this is a district's own few."""
        pending = sa.select(RecognitionEntryRow.teacher_id, RecognitionEntryRow.program_id).where(
            RecognitionEntryRow.pending, RecognitionEntryRow.state == state)
        if district is not None:
            pending = pending.where(RecognitionEntryRow.district == district)
        query = (sa.select(RecognitionEntryRow)
                 .where(sa.tuple_(RecognitionEntryRow.teacher_id, RecognitionEntryRow.program_id).in_(pending.distinct()))
                 .order_by(RecognitionEntryRow.teacher_id, RecognitionEntryRow.program_id, RecognitionEntryRow.seq))
        return [(StoredEntry(row.entry_id, row.teacher_id, row.state, row.district, self._entry(row)), row.created_at)
                for row in await self.session.scalars(query)]

    @staticmethod
    def _entry(row: RecognitionEntryRow) -> RecognitionEntry:
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
        before = await self.session.scalar(
            sa.select(MembershipRow).where(MembershipRow.kind == kind, MembershipRow.collection_id == collection_id)
            .with_for_update())
        if before is not None and before.revision >= revision:
            return None
        previous = frozenset() if before is None or not before.active else frozenset(
            UUID(c) for c in before.credential_ids)
        values = {"revision": revision, "active": active, "credential_ids": sorted(str(c) for c in credential_ids)}
        await self.session.execute(
            insert(MembershipRow).values(kind=kind, collection_id=collection_id, **values)
            .on_conflict_do_update(index_elements=[MembershipRow.kind, MembershipRow.collection_id], set_=values,
                                   where=MembershipRow.revision < revision)
        )
        return previous

    async def current(self) -> Memberships:
        """Every active stack and pathway: a few hundred rows at most, read whole per evaluation."""
        stacks: dict[UUID, frozenset[UUID]] = {}
        pathways: dict[UUID, frozenset[UUID]] = {}
        for row in await self.session.scalars(sa.select(MembershipRow).where(MembershipRow.active)):
            (stacks if row.kind == "stack" else pathways)[row.collection_id] = frozenset(
                UUID(c) for c in row.credential_ids)
        return Memberships(stacks=stacks, pathways=pathways)

    async def teachers_holding(self, credential_ids: Collection[UUID]) -> list[str]:
        if not credential_ids:
            return []
        query = sa.select(AwardRow.teacher_id).where(AwardRow.credential_id.in_(list(credential_ids))).distinct()
        return sorted(await self.session.scalars(query))
