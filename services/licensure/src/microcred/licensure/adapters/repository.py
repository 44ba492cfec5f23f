"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.licensure.adapters.orm import (
    AwardRow,
    AwardStatusChangeRow,
    CredentialVersionRow,
    CreditClaimRow,
    LedgerEntryRow,
    LicenseRow,
    RevokedAwardRow,
    RuleSetRow,
    StateApprovalRow,
)
from microcred.licensure.domain.model import (
    AwardRecord,
    ClaimStatus,
    CredentialVersion,
    CreditClaim,
    EntryKind,
    IssuerCreditHint,
    LedgerEntry,
    License,
    RuleSet,
    StatusChange,
)
from microcred.runtime.locks import advisory_xact_lock


class RuleSetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def states(self) -> list[str]:
        """Every state with a rule set: the known values of the per-state gauges' label."""
        query = sa.select(RuleSetRow.state).distinct().order_by(RuleSetRow.state)
        return list((await self.session.execute(query)).scalars())

    async def of_state(self, state: str) -> list[RuleSet]:
        rows = await self.session.scalars(sa.select(RuleSetRow).where(RuleSetRow.state == state))
        return [self._to_domain(row) for row in rows]

    async def all(self) -> list[RuleSet]:
        rows = await self.session.scalars(sa.select(RuleSetRow).order_by(RuleSetRow.state, RuleSetRow.rule_set_id,
                                                                         RuleSetRow.version))
        return [self._to_domain(row) for row in rows]

    async def get(self, rule_set_id: str, version: int) -> RuleSet | None:
        row = await self.session.get(RuleSetRow, (rule_set_id, version))
        return None if row is None else self._to_domain(row)

    async def latest_version(self, rule_set_id: str) -> int | None:
        return await self.session.scalar(
            sa.select(sa.func.max(RuleSetRow.version)).where(RuleSetRow.rule_set_id == rule_set_id)
        )

    async def lock(self, rule_set_id: str) -> None:
        """Serialise publishing versions of one rule set, so two publishers never take the same number."""
        await advisory_xact_lock(self.session, f"licensure-rule-set:{rule_set_id}")

    async def add_once(self, rule_set: RuleSet, published_by: str | None = None) -> bool:
        inserted = await self.session.execute(
            insert(RuleSetRow)
            .values(
                rule_set_id=rule_set.rule_set_id, version=rule_set.version, state=rule_set.state,
                effective_from=rule_set.effective_from, unit=rule_set.unit,
                amount_per_credential=rule_set.amount_per_credential,
                required_per_cycle=rule_set.required_per_cycle, source_note=rule_set.source_note,
                cap_per_cycle=rule_set.cap_per_cycle, accepts=rule_set.accepts,
                accepted_issuers=[str(i) for i in rule_set.accepted_issuers],
                accepted_credentials=[str(c) for c in rule_set.accepted_credentials],
                requires_growth_plan_match=rule_set.requires_growth_plan_match,
                requires_district_approval=rule_set.requires_district_approval,
                on_revocation=rule_set.on_revocation, on_expiry=rule_set.on_expiry, source_url=rule_set.source_url,
                example=rule_set.example, published_by=published_by,
            )
            .on_conflict_do_nothing()
            .returning(RuleSetRow.rule_set_id)
        )
        return inserted.first() is not None

    @staticmethod
    def _to_domain(row: RuleSetRow) -> RuleSet:
        return RuleSet(
            rule_set_id=row.rule_set_id, state=row.state, version=row.version, effective_from=row.effective_from,
            unit=row.unit, amount_per_credential=row.amount_per_credential,
            required_per_cycle=row.required_per_cycle, source_note=row.source_note,
            cap_per_cycle=row.cap_per_cycle, accepts=row.accepts,  # type: ignore[arg-type]
            accepted_issuers=tuple(UUID(i) for i in row.accepted_issuers),
            accepted_credentials=tuple(UUID(c) for c in row.accepted_credentials),
            requires_growth_plan_match=row.requires_growth_plan_match,
            requires_district_approval=row.requires_district_approval,
            on_revocation=row.on_revocation, on_expiry=row.on_expiry,  # type: ignore[arg-type]
            source_url=row.source_url, example=row.example,
        )



class LicenseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_teacher(self, teacher_id: str) -> None:
        """Serialise crediting and license registration for one teacher until the transaction ends.

        Otherwise an award and a new license committing at the same time would each miss the other,
        and the award would never credit that license.
        """
        await advisory_xact_lock(self.session, f"licensure-teacher:{teacher_id}")

    async def add_once(self, license: License) -> bool:
        """Insert the license unless its teacher already registered that number in that state; False then."""
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
                required_amount=license.required_amount,
                district=license.district,
                growth_plan=[str(c) for c in license.growth_plan],
            )
            .on_conflict_do_nothing(
                index_elements=[LicenseRow.teacher_id, LicenseRow.state, LicenseRow.license_number]
            )
            .returning(LicenseRow.license_id)
        )
        return inserted.first() is not None

    async def get(self, license_id: UUID) -> License | None:
        row = await self.session.get(LicenseRow, license_id)
        return None if row is None else self._to_domain(row)

    async def set_growth_plan(self, license_id: UUID, credential_ids: Sequence[UUID]) -> None:
        await self.session.execute(
            sa.update(LicenseRow).where(LicenseRow.license_id == license_id)
            .values(growth_plan=[str(c) for c in credential_ids])
        )

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
            required_amount=row.required_amount,
            district=row.district,
            growth_plan=tuple(UUID(c) for c in row.growth_plan),
        )


class AwardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, award: AwardRecord) -> bool:
        """Remember the award; False if it was already known (redelivered, or republished under a new event id).
        A newly added award has no decision on any license yet: every decision is made on a known award."""
        inserted = await self.session.execute(
            insert(AwardRow)
            .values(
                award_id=award.award_id,
                teacher_id=award.teacher_id,
                credential_id=award.credential_id,
                credential_version=award.credential_version,
                credential_name=award.credential_name,
                issued_at=award.issued_at,
                issuer_id=award.issuer_id,
                valid_until=award.valid_until,
                credential=award.credential,
                credential_url=award.credential_url,
            )
            .on_conflict_do_nothing()
            .returning(AwardRow.award_id)
        )
        return inserted.first() is not None

    async def get(self, award_id: UUID) -> AwardRecord | None:
        row = await self.session.get(AwardRow, award_id)
        return None if row is None else self._to_domain(row)

    async def record_revocation(self, award_id: UUID, reason: str, at: datetime) -> bool:
        """Remember the revocation, even before the award itself arrives; False if already known."""
        inserted = await self.session.execute(
            insert(RevokedAwardRow).values(award_id=award_id, reason=reason, revoked_at=at)
            .on_conflict_do_nothing().returning(RevokedAwardRow.award_id)
        )
        return inserted.first() is not None

    async def is_revoked(self, award_id: UUID) -> bool:
        return await self.session.get(RevokedAwardRow, award_id) is not None

    async def record_status_change(self, change: StatusChange) -> bool:
        """Remember a suspension, reinstatement or revocation; False if this very change is already known
        (redelivered, or republished under a new event id), so it is announced once."""
        inserted = await self.session.execute(
            insert(AwardStatusChangeRow).values(
                award_id=change.award_id, status=change.status, changed_at=change.changed_at, reason=change.reason,
                changed_by=change.changed_by,
            ).on_conflict_do_nothing().returning(AwardStatusChangeRow.award_id)
        )
        return inserted.first() is not None

    async def status_changes(self, award_id: UUID) -> list[StatusChange]:
        query = sa.select(AwardStatusChangeRow).where(AwardStatusChangeRow.award_id == award_id).order_by(
            AwardStatusChangeRow.changed_at)
        return [
            StatusChange(award_id=row.award_id, status=row.status, changed_at=row.changed_at,  # type: ignore[arg-type]
                         reason=row.reason, changed_by=row.changed_by)
            for row in await self.session.scalars(query)
        ]

    async def status_changes_of(self, award_ids: Collection[UUID]) -> dict[UUID, list[StatusChange]]:
        """:meth:`status_changes` of several awards in one statement; an award without changes maps to []."""
        found: dict[UUID, list[StatusChange]] = {award_id: [] for award_id in award_ids}
        if not found:
            return found
        query = sa.select(AwardStatusChangeRow).where(AwardStatusChangeRow.award_id.in_(list(found))).order_by(
            AwardStatusChangeRow.award_id, AwardStatusChangeRow.changed_at)
        for row in await self.session.scalars(query):
            found[row.award_id].append(StatusChange(
                award_id=row.award_id, status=row.status, changed_at=row.changed_at,  # type: ignore[arg-type]
                reason=row.reason, changed_by=row.changed_by))
        return found

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
            issuer_id=row.issuer_id,
            valid_until=row.valid_until,
            credential=row.credential,
            credential_url=row.credential_url,
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
            "competency": credential.competency,
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
                competency=row.competency,
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
                reason=entry.reason,
                reverses_entry_id=entry.reverses_entry_id,
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
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def credit_of(self, award_id: UUID, license_id: UUID) -> LedgerEntry | None:
        row = await self.session.scalar(sa.select(LedgerEntryRow).where(
            LedgerEntryRow.award_id == award_id, LedgerEntryRow.license_id == license_id,
            LedgerEntryRow.kind == EntryKind.CREDIT.value))
        return None if row is None else self._to_domain(row)

    async def report(self, state: str, start: date, end: date, district: str | None = None) -> list[dict[str, Any]]:
        """Ledger entries of ``state``'s licenses (of ``district`` only, if given) posted in [start, end], with
        what a state report shows."""
        query = (
            sa.select(LedgerEntryRow, LicenseRow.license_number, LicenseRow.district, AwardRow.credential_id,
                      AwardRow.credential_name, AwardRow.issuer_id)
            .join(LicenseRow, LicenseRow.license_id == LedgerEntryRow.license_id)
            .outerjoin(AwardRow, AwardRow.award_id == LedgerEntryRow.award_id)
            .where(LicenseRow.state == state, sa.func.date(LedgerEntryRow.posted_at) >= start,
                   sa.func.date(LedgerEntryRow.posted_at) <= end,
                   *([LicenseRow.district == district] if district is not None else []))
            .order_by(LedgerEntryRow.posted_at, LedgerEntryRow.entry_id)
        )
        return [
            {"entry": self._to_domain(row[0]), "license_number": row[1], "district": row[2],
             "credential_id": row[3], "credential_name": row[4], "issuer_id": row[5]}
            for row in (await self.session.execute(query)).all()
        ]

    @staticmethod
    def _to_domain(row: LedgerEntryRow) -> LedgerEntry:
        return LedgerEntry(
            entry_id=row.entry_id,
            license_id=row.license_id,
            award_id=row.award_id,
            kind=EntryKind(row.kind),
            amount=row.amount,
            unit=row.unit,
            rule_set_id=row.rule_set_id,
            rule_set_version=row.rule_set_version,
            earned_on=row.earned_on,
            reason=row.reason,
            posted_at=row.posted_at,
            reverses_entry_id=row.reverses_entry_id,
        )


class ClaimRepository:
    """One decision per (award, license); the primary key is what makes it one."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pending_by_state(self) -> dict[str, int]:
        """Claims waiting for a district, per state; the partial index on pending claims keeps this small."""
        query = (
            sa.select(LicenseRow.state, sa.func.count())
            .select_from(CreditClaimRow)
            .join(LicenseRow, LicenseRow.license_id == CreditClaimRow.license_id)
            .where(sa.text("credit_claims.status = 'pending_approval'"))
            .group_by(LicenseRow.state)
        )
        return {state: count for state, count in await self.session.execute(query)}

    async def add_once(self, claim: CreditClaim) -> bool:
        inserted = await self.session.execute(
            insert(CreditClaimRow).values(**self._values(claim)).on_conflict_do_nothing()
            .returning(CreditClaimRow.award_id)
        )
        return inserted.first() is not None

    async def save(self, claim: CreditClaim) -> None:
        await self.session.execute(
            sa.update(CreditClaimRow)
            .where(CreditClaimRow.award_id == claim.award_id, CreditClaimRow.license_id == claim.license_id)
            .values(**self._values(claim), updated_at=sa.func.now())
        )

    async def get(self, award_id: UUID, license_id: UUID, *, for_update: bool = False) -> CreditClaim | None:
        row = await self.session.get(CreditClaimRow, (award_id, license_id), with_for_update=for_update,
                                     populate_existing=for_update)
        return None if row is None else self._to_domain(row)

    async def of_award(self, award_id: UUID) -> list[CreditClaim]:
        query = sa.select(CreditClaimRow).where(CreditClaimRow.award_id == award_id).with_for_update()
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def of_license(self, license_id: UUID) -> list[CreditClaim]:
        query = sa.select(CreditClaimRow).where(CreditClaimRow.license_id == license_id).order_by(
            CreditClaimRow.earned_on, CreditClaimRow.award_id)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def expired_unannounced(self, now: datetime, limit: int) -> list[CreditClaim]:
        """Decisions on awards past their validUntil whose state has not been told of the expiry yet (the
        expiry sweep's work list, oldest expiry first). A revoked award is left out: it is no longer valid
        anyway, and its state already heard the revocation, which is final."""
        query = (
            sa.select(CreditClaimRow)
            .join(AwardRow, AwardRow.award_id == CreditClaimRow.award_id)
            .where(AwardRow.valid_until.is_not(None), AwardRow.valid_until <= now,
                   CreditClaimRow.expiry_announced_at.is_(None),
                   ~sa.exists().where(RevokedAwardRow.award_id == AwardRow.award_id))
            .order_by(AwardRow.valid_until, CreditClaimRow.award_id, CreditClaimRow.license_id)
            .limit(limit)
        )
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def mark_expiry_announced(self, award_id: UUID, license_id: UUID, at: datetime) -> bool:
        """Mark the expiry announced unless it already was; False then. Two sweeps racing on one claim: the
        second waits on the row and, once the first commits, finds it marked, so the state hears once."""
        marked = await self.session.execute(
            sa.update(CreditClaimRow)
            .where(CreditClaimRow.award_id == award_id, CreditClaimRow.license_id == license_id,
                   CreditClaimRow.expiry_announced_at.is_(None))
            .values(expiry_announced_at=at)
            .returning(CreditClaimRow.award_id)
        )
        return marked.first() is not None

    async def pending(self, state: str, district: str | None, limit: int, offset: int) -> list[CreditClaim]:
        query = (
            sa.select(CreditClaimRow).join(LicenseRow, LicenseRow.license_id == CreditClaimRow.license_id)
            .where(CreditClaimRow.status == ClaimStatus.PENDING_APPROVAL.value, LicenseRow.state == state)
        )
        if district is not None:
            query = query.where(LicenseRow.district == district)
        query = query.order_by(CreditClaimRow.earned_on, CreditClaimRow.award_id).limit(limit).offset(offset)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    @staticmethod
    def _values(claim: CreditClaim) -> dict[str, Any]:
        return {
            "award_id": claim.award_id, "license_id": claim.license_id, "status": claim.status.value,
            "reason": claim.reason, "earned_on": claim.earned_on, "rule_set_id": claim.rule_set_id,
            "rule_set_version": claim.rule_set_version, "amount": claim.amount, "unit": claim.unit,
            "decided_by": claim.decided_by, "decided_at": claim.decided_at,
        }

    @staticmethod
    def _to_domain(row: CreditClaimRow) -> CreditClaim:
        return CreditClaim(
            award_id=row.award_id, license_id=row.license_id, status=ClaimStatus(row.status), reason=row.reason,
            earned_on=row.earned_on, rule_set_id=row.rule_set_id, rule_set_version=row.rule_set_version,
            amount=row.amount, unit=row.unit, decided_by=row.decided_by, decided_at=row.decided_at,
        )


class StateApprovalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def approve(self, state: str, credential_id: UUID, by: str) -> bool:
        inserted = await self.session.execute(
            insert(StateApprovalRow).values(state=state, credential_id=credential_id, approved_by=by)
            .on_conflict_do_nothing().returning(StateApprovalRow.credential_id)
        )
        return inserted.first() is not None

    async def withdraw(self, state: str, credential_id: UUID) -> None:
        await self.session.execute(sa.delete(StateApprovalRow).where(
            StateApprovalRow.state == state, StateApprovalRow.credential_id == credential_id))

    async def of_state(self, state: str) -> set[UUID]:
        rows = await self.session.scalars(sa.select(StateApprovalRow.credential_id).where(
            StateApprovalRow.state == state))
        return set(rows)
