"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.licensure.adapters.orm import AwardRow, CredentialVersionRow, LedgerEntryRow, LicenseRow, RuleSetRow
from microcred.licensure.domain.model import (
    AwardRecord,
    CredentialVersion,
    EntryKind,
    IssuerCreditHint,
    LedgerEntry,
    License,
    RuleSet,
)


class RuleSetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_state(self, state: str) -> list[RuleSet]:
        rows = await self.session.scalars(sa.select(RuleSetRow).where(RuleSetRow.state == state))
        return [
            RuleSet(
                rule_set_id=row.rule_set_id,
                state=row.state,
                version=row.version,
                effective_from=row.effective_from,
                unit=row.unit,
                amount_per_credential=row.amount_per_credential,
                required_per_cycle=row.required_per_cycle,
                source_note=row.source_note,
            )
            for row in rows
        ]


class LicenseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_teacher(self, teacher_id: str) -> None:
        """Serialise crediting and license registration for one teacher until the transaction ends.

        Otherwise an award and a new license committing at the same time would each miss the other,
        and the award would never credit that license.
        """
        digest = hashlib.blake2b(f"licensure-teacher:{teacher_id}".encode(), digest_size=8).digest()
        await self.session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True)))
        )

    async def add_once(self, license: License) -> bool:
        """Insert the license unless its state already has that number; False when it did."""
        inserted = await self.session.execute(
            insert(LicenseRow)
            .values(
                license_id=license.license_id,
                teacher_id=license.teacher_id,
                state=license.state,
                license_number=license.license_number,
                license_type=license.license_type,
                cycle_start=license.cycle_start,
                cycle_end=license.cycle_end,
            )
            .on_conflict_do_nothing(index_elements=[LicenseRow.state, LicenseRow.license_number])
            .returning(LicenseRow.license_id)
        )
        return inserted.first() is not None

    async def get(self, license_id: UUID) -> License | None:
        row = await self.session.get(LicenseRow, license_id)
        return None if row is None else self._to_domain(row)

    async def of_teacher(self, teacher_id: str) -> list[License]:
        query = sa.select(LicenseRow).where(LicenseRow.teacher_id == teacher_id).order_by(LicenseRow.license_id)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def list(
        self, *, everyone: bool, teacher_id: str | None, states: Sequence[str], limit: int, offset: int
    ) -> list[License]:
        query = sa.select(LicenseRow)
        if not everyone:
            visible: list[sa.ColumnElement[bool]] = [LicenseRow.state.in_(list(states))] if states else []
            if teacher_id is not None:
                visible.append(LicenseRow.teacher_id == teacher_id)
            query = query.where(sa.or_(sa.false(), *visible))
        query = query.order_by(LicenseRow.state, LicenseRow.license_number).limit(limit).offset(offset)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    @staticmethod
    def _to_domain(row: LicenseRow) -> License:
        return License(
            license_id=row.license_id,
            teacher_id=row.teacher_id,
            state=row.state,
            license_number=row.license_number,
            license_type=row.license_type,
            cycle_start=row.cycle_start,
            cycle_end=row.cycle_end,
        )


class AwardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, award: AwardRecord) -> None:
        await self.session.execute(
            insert(AwardRow)
            .values(
                award_id=award.award_id,
                teacher_id=award.teacher_id,
                credential_id=award.credential_id,
                credential_version=award.credential_version,
                credential_name=award.credential_name,
                issued_at=award.issued_at,
            )
            .on_conflict_do_nothing()
        )

    async def of_teacher(self, teacher_id: str) -> list[AwardRecord]:
        query = sa.select(AwardRow).where(AwardRow.teacher_id == teacher_id).order_by(AwardRow.issued_at)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def of_ids(self, award_ids: Collection[UUID]) -> list[AwardRecord]:
        if not award_ids:
            return []
        query = sa.select(AwardRow).where(AwardRow.award_id.in_(list(award_ids)))
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    @staticmethod
    def _to_domain(row: AwardRow) -> AwardRecord:
        return AwardRecord(
            award_id=row.award_id,
            teacher_id=row.teacher_id,
            credential_id=row.credential_id,
            credential_version=row.credential_version,
            credential_name=row.credential_name,
            issued_at=row.issued_at,
        )


class CredentialVersionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, credential: CredentialVersion) -> None:
        """Keep the latest word on a version; catalog never changes a published one, so this is a safeguard."""
        values = {
            "name": credential.name,
            "issuer_id": credential.issuer_id,
            "issuer_name": credential.issuer_name,
            "credit_hints": [
                {"unit": hint.unit, "amount": str(hint.amount), "note": hint.note} for hint in credential.credit_hints
            ],
        }
        await self.session.execute(
            insert(CredentialVersionRow)
            .values(credential_id=credential.credential_id, version=credential.version, **values)
            .on_conflict_do_update(
                index_elements=[CredentialVersionRow.credential_id, CredentialVersionRow.version], set_=values
            )
        )

    async def of_keys(self, keys: Collection[tuple[UUID, int]]) -> list[CredentialVersion]:
        """The known versions among (credential_id, version) ``keys``; unknown ones are simply absent."""
        if not keys:
            return []
        query = sa.select(CredentialVersionRow).where(
            sa.tuple_(CredentialVersionRow.credential_id, CredentialVersionRow.version).in_(list(keys))
        )
        return [
            CredentialVersion(
                credential_id=row.credential_id,
                version=row.version,
                name=row.name,
                issuer_id=row.issuer_id,
                issuer_name=row.issuer_name,
                credit_hints=tuple(
                    IssuerCreditHint(unit=hint["unit"], amount=Decimal(hint["amount"]), note=hint.get("note"))
                    for hint in row.credit_hints
                ),
            )
            for row in await self.session.scalars(query)
        ]


class LedgerRepository:
    """Append and read; there is deliberately no update or delete."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append_once(self, entry: LedgerEntry) -> bool:
        """Append unless (award, license, kind) already has an entry; False when it did."""
        inserted = await self.session.execute(
            insert(LedgerEntryRow)
            .values(
                entry_id=entry.entry_id,
                license_id=entry.license_id,
                award_id=entry.award_id,
                kind=entry.kind.value,
                amount=entry.amount,
                unit=entry.unit,
                rule_set_id=entry.rule_set_id,
                rule_set_version=entry.rule_set_version,
                earned_on=entry.earned_on,
            )
            .on_conflict_do_nothing(
                index_elements=[LedgerEntryRow.award_id, LedgerEntryRow.license_id, LedgerEntryRow.kind]
            )
            .returning(LedgerEntryRow.entry_id)
        )
        return inserted.first() is not None

    async def of_license(self, license_id: UUID) -> list[LedgerEntry]:
        query = (
            sa.select(LedgerEntryRow)
            .where(LedgerEntryRow.license_id == license_id)
            .order_by(LedgerEntryRow.earned_on, LedgerEntryRow.posted_at, LedgerEntryRow.entry_id)
        )
        return [
            LedgerEntry(
                entry_id=row.entry_id,
                license_id=row.license_id,
                award_id=row.award_id,
                kind=EntryKind(row.kind),
                amount=row.amount,
                unit=row.unit,
                rule_set_id=row.rule_set_id,
                rule_set_version=row.rule_set_version,
                earned_on=row.earned_on,
            )
            for row in await self.session.scalars(query)
        ]
