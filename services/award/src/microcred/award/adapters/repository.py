"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

import hashlib
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.award.adapters.orm import AwardRow, CredentialVersionRow
from microcred.award.domain.model import Award, AwardStatus, CredentialVersion
from microcred.events import Alignment, CriterionResult, IssuerProfile, Rubric, SubmissionCriteria


class CredentialVersionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, credential_id: UUID, version: int) -> None:
        """Serialise the two handlers that meet on one credential version until the transaction ends.

        Without it a score could store a pending award while the version's arrival, in a concurrent
        transaction, looks for pending awards and misses it: the award would wait forever.
        """
        digest = hashlib.blake2b(f"{credential_id}:v{version}".encode(), digest_size=8).digest()
        await self.session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True)))
        )

    async def get(self, credential_id: UUID, version: int) -> CredentialVersion | None:
        row = await self.session.get(CredentialVersionRow, (credential_id, version))
        return None if row is None else self._to_domain(row)

    async def add(self, credential: CredentialVersion) -> bool:
        """Store a version once; False if it was already known (published versions never change)."""
        inserted = await self.session.execute(
            insert(CredentialVersionRow)
            .values(
                credential_id=credential.credential_id,
                version=credential.version,
                issuer=credential.issuer.model_dump(mode="json"),
                name=credential.name,
                description=credential.description,
                competency=credential.competency,
                rubric=credential.rubric.model_dump(mode="json"),
                submission_criteria=credential.submission_criteria.model_dump(mode="json"),
                alignments=[alignment.model_dump(mode="json") for alignment in credential.alignments],
                image_url=credential.image_url,
                expiry_months=credential.expiry_months,
            )
            .on_conflict_do_nothing()
            .returning(CredentialVersionRow.credential_id)
        )
        return inserted.first() is not None

    @staticmethod
    def _to_domain(row: CredentialVersionRow) -> CredentialVersion:
        return CredentialVersion(
            credential_id=row.credential_id,
            version=row.version,
            issuer=IssuerProfile.model_validate(row.issuer),
            name=row.name,
            description=row.description,
            competency=row.competency,
            rubric=Rubric.model_validate(row.rubric),
            submission_criteria=SubmissionCriteria.model_validate(row.submission_criteria),
            alignments=tuple(Alignment.model_validate(alignment) for alignment in row.alignments),
            image_url=row.image_url,
            expiry_months=row.expiry_months,
        )


class AwardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(self, award: Award) -> bool:
        """Insert the award unless its submission already has one; False when it did."""
        inserted = await self.session.execute(
            insert(AwardRow)
            .values(**self._to_values(award))
            .on_conflict_do_nothing(index_elements=[AwardRow.submission_id])
            .returning(AwardRow.award_id)
        )
        return inserted.first() is not None

    async def save(self, award: Award) -> None:
        await self.session.execute(
            sa.update(AwardRow).where(AwardRow.award_id == award.award_id).values(**self._to_values(award))
        )

    async def get(self, award_id: UUID) -> Award | None:
        row = await self.session.get(AwardRow, award_id)
        return None if row is None else self._to_domain(row)

    async def pending_for(self, credential_id: UUID, version: int) -> list[Award]:
        query = (
            sa.select(AwardRow)
            .where(
                AwardRow.credential_id == credential_id,
                AwardRow.credential_version == version,
                AwardRow.status == AwardStatus.PENDING.value,
            )
            .order_by(AwardRow.created_at, AwardRow.award_id)
            .with_for_update()
        )
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def list(self, *, teacher_id: str | None, limit: int, offset: int) -> list[Award]:
        query = sa.select(AwardRow)
        if teacher_id is not None:
            query = query.where(AwardRow.teacher_id == teacher_id)
        query = query.order_by(AwardRow.issued_at.desc(), AwardRow.award_id).limit(limit).offset(offset)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    @staticmethod
    def _to_values(award: Award) -> dict[str, object]:
        return {
            "award_id": award.award_id,
            "submission_id": award.submission_id,
            "teacher_id": award.teacher_id,
            "credential_id": award.credential_id,
            "credential_version": award.credential_version,
            "status": award.status.value,
            "results": [result.model_dump(mode="json") for result in award.results],
            "states": list(award.states),
            "issued_at": award.issued_at,
            "scored_event_id": award.scored_event_id,
            "correlation_id": award.correlation_id,
            "issuer_id": award.issuer_id,
            "credential_name": award.credential_name,
            "valid_until": award.valid_until,
            "credential": award.credential,
        }

    @staticmethod
    def _to_domain(row: AwardRow) -> Award:
        return Award(
            award_id=row.award_id,
            submission_id=row.submission_id,
            teacher_id=row.teacher_id,
            credential_id=row.credential_id,
            credential_version=row.credential_version,
            results=tuple(CriterionResult.model_validate(result) for result in row.results),
            issued_at=row.issued_at,
            states=tuple(row.states),
            scored_event_id=row.scored_event_id,
            correlation_id=row.correlation_id,
            status=AwardStatus(row.status),
            issuer_id=row.issuer_id,
            credential_name=row.credential_name,
            valid_until=row.valid_until,
            credential=row.credential,
        )
