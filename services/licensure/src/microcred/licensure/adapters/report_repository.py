"""The reads behind the state and district reports that are not the ledger's: who holds what, by district."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from microcred.licensure.adapters.orm import (
    AwardRow,
    AwardStatusChangeRow,
    CredentialVersionRow,
    LicenseRow,
    RevokedAwardRow,
)
from microcred.licensure.domain.reports import Holding


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _in_scope(state: str, district: str | None) -> list[sa.ColumnElement[bool]]:
        return [LicenseRow.state == state, *([LicenseRow.district == district] if district is not None else [])]

    async def licensed_teachers(self, state: str, district: str | None) -> dict[str | None, int]:
        query = (sa.select(LicenseRow.district, sa.func.count(sa.distinct(LicenseRow.teacher_id)))
                 .where(*self._in_scope(state, district)).group_by(LicenseRow.district))
        return {row[0]: int(row[1]) for row in (await self.session.execute(query)).all()}

    async def holdings(self, state: str, district: str | None, now: datetime) -> list[Holding]:
        """Each (district, teacher, credential) once, for awards held at ``now`` (domain.reports says what held
        means). The standing is the latest change: a suspension counts unless a reinstatement came after it."""
        later = aliased(AwardStatusChangeRow)
        suspended = (
            sa.select(AwardStatusChangeRow.award_id)
            .where(AwardStatusChangeRow.award_id == AwardRow.award_id, AwardStatusChangeRow.status == "suspended",
                   ~sa.exists().where(later.award_id == AwardStatusChangeRow.award_id,
                                      later.status == "reinstated", later.changed_at > AwardStatusChangeRow.changed_at))
        )
        revoked = sa.select(RevokedAwardRow.award_id).where(RevokedAwardRow.award_id == AwardRow.award_id)
        query = (
            sa.select(LicenseRow.district, AwardRow.teacher_id, AwardRow.credential_name, CredentialVersionRow.competency)
            .distinct()
            .join(AwardRow, AwardRow.teacher_id == LicenseRow.teacher_id)
            .outerjoin(CredentialVersionRow, sa.and_(CredentialVersionRow.credential_id == AwardRow.credential_id,
                                                     CredentialVersionRow.version == AwardRow.credential_version))
            .where(*self._in_scope(state, district),
                   sa.or_(AwardRow.valid_until.is_(None), AwardRow.valid_until > now),
                   ~sa.exists(revoked), ~sa.exists(suspended))
        )
        return [Holding(district=row[0], teacher_id=row[1], credential_name=row[2], competency=row[3])
                for row in (await self.session.execute(query)).all()]
