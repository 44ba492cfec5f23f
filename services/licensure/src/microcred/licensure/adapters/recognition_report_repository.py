"""The reads behind the recognition views: a teacher's dated ledger, a program's ledger in a state or a
district, and the licenses and credential names the views show beside it. Read only."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.licensure.adapters.orm import AwardRow, CredentialVersionRow, LicenseRow, RecognitionEntryRow
from microcred.licensure.domain.model import License
from microcred.licensure.domain.recognition.ledger import RecognitionEntry
from microcred.licensure.domain.recognition.standing import DatedEntry


def _dated(row: RecognitionEntryRow) -> DatedEntry:
    return DatedEntry(row.entry_id, row.teacher_id, row.created_at, RecognitionEntry(
        program_id=row.program_id, program_version=row.program_version, key=row.key,
        kind=row.kind,  # type: ignore[arg-type]
        year=row.year, award_ids=tuple(UUID(a) for a in row.award_ids), reason=row.reason, amount=row.amount,
        pending=row.pending))


class RecognitionReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_teacher(self, teacher_id: str) -> list[DatedEntry]:
        query = sa.select(RecognitionEntryRow).where(RecognitionEntryRow.teacher_id == teacher_id).order_by(
            RecognitionEntryRow.seq)
        return [_dated(row) for row in await self.session.scalars(query)]

    async def of_programs(self, state: str, program_ids: Collection[str], district: str | None,
                          year: int | None = None) -> list[DatedEntry]:
        """The programs' entries of the state's teachers; with ``district``, of the teachers licensed in that
        district only (a state program's entries carry no district, so the teacher's license decides)."""
        if not program_ids:
            return []
        query = sa.select(RecognitionEntryRow).where(
            RecognitionEntryRow.state == state, RecognitionEntryRow.program_id.in_(list(program_ids)))
        if year is not None:
            query = query.where(RecognitionEntryRow.year == year)
        if district is not None:
            licensed = sa.select(LicenseRow.teacher_id).where(LicenseRow.state == state,
                                                               LicenseRow.district == district)
            query = query.where(RecognitionEntryRow.teacher_id.in_(licensed))
        query = query.order_by(RecognitionEntryRow.seq)
        return [_dated(row) for row in await self.session.scalars(query)]

    async def licenses_of(self, state: str, teacher_ids: Collection[str]) -> list[License]:
        if not teacher_ids:
            return []
        query = sa.select(LicenseRow).where(LicenseRow.state == state, LicenseRow.teacher_id.in_(list(teacher_ids)))
        return [License(
            license_id=row.license_id, teacher_id=row.teacher_id, state=row.state, license_number=row.license_number,
            license_type=row.license_type, cycle_start=row.cycle_start, cycle_end=row.cycle_end,
            required_amount=row.required_amount, district=row.district,
            growth_plan=tuple(UUID(c) for c in row.growth_plan),
        ) for row in await self.session.scalars(query.order_by(LicenseRow.license_number))]

    async def credential_names(self, credential_ids: Collection[UUID]) -> dict[UUID, str]:
        """Each credential's name as its latest version published it (catalog.credential-published), or
        else as an award of it named it; a credential licensure never heard of is left out."""
        if not credential_ids:
            return {}
        ids = list(credential_ids)
        names: dict[UUID, str] = {}
        awards = sa.select(AwardRow.credential_id, AwardRow.credential_name).where(
            AwardRow.credential_id.in_(ids)).order_by(AwardRow.credential_version)
        for credential_id, name in (await self.session.execute(awards)).all():
            names[credential_id] = name
        versions = sa.select(CredentialVersionRow.credential_id, CredentialVersionRow.name).where(
            CredentialVersionRow.credential_id.in_(ids)).order_by(CredentialVersionRow.version)
        for credential_id, name in (await self.session.execute(versions)).all():
            names[credential_id] = name  # the highest version last: the name the catalog gives it now
        return names
