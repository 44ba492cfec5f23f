"""Repositories translate between rows and domain objects; the unit of work owns the session.

The statements are Core, on the tables (``Row.__table__``), not on the mapped classes: every use case reads
rows only to build domain objects and writes with explicit INSERTs and UPDATEs, and the ORM's work per
statement (bulk-DML plumbing, the identity map walked after an UPDATE, mapped instances built and thrown away)
cost handling an award more Python than its database did. No mapped object of these tables is loaded here, so
an UPDATE here has no loaded object to keep in step. The exception is ``LicenseRepository.set_growth_plan``,
left to the ORM: the recognition reports load mapped licenses, and it keeps any loaded one in step.

A rule set version never changes once published, so ``RuleSetRepository.get`` reads each one once per unit of
work (a repository lives as long as its unit of work), for the several claims a revocation may settle.

What every award, decision and district poll sends is built once, in adapters/statements.py (why: there).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.licensure.adapters import statements as q
from microcred.licensure.adapters.orm import (
    CredentialVersionRow,
    LicenseRow,
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
from microcred.runtime.direct import direct_of
from microcred.runtime.locks import advisory_xact_lock

_CREDENTIAL_VERSIONS = cast(sa.Table, CredentialVersionRow.__table__)


class RuleSetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)
        # A published version never changes (add_once only): read once per unit of work (see the module).
        self._known: dict[tuple[str, int], RuleSet] = {}

    async def states(self) -> list[str]:
        """Every state with a rule set: the known values of the per-state gauges' label."""
        query = sa.select(q.RULE_SETS.c.state).distinct().order_by(q.RULE_SETS.c.state)
        return list((await self.session.execute(query)).scalars())

    async def of_state(self, state: str) -> list[RuleSet]:
        rows = await self.direct.rows(q.SELECT_RULE_SETS_OF_STATE, {"state": state})
        return [self._to_domain(row) for row in rows]

    async def all(self) -> list[RuleSet]:
        rows = await self.session.execute(sa.select(q.RULE_SETS).order_by(q.RULE_SETS.c.state, q.RULE_SETS.c.rule_set_id,
                                                                         q.RULE_SETS.c.version))
        return [self._to_domain(row) for row in rows]

    async def get(self, rule_set_id: str, version: int) -> RuleSet | None:
        key = (rule_set_id, version)
        if key in self._known:
            return self._known[key]
        row = await self.direct.first(q.SELECT_RULE_SET, {"rule_set_id": rule_set_id, "version": version})
        if row is None:
            return None
        rule_set = self._known[key] = self._to_domain(row)
        return rule_set

    async def latest_version(self, rule_set_id: str) -> int | None:
        return await self.session.scalar(
            sa.select(sa.func.max(q.RULE_SETS.c.version)).where(q.RULE_SETS.c.rule_set_id == rule_set_id)
        )

    async def lock(self, rule_set_id: str) -> None:
        """Serialise publishing versions of one rule set, so two publishers never take the same number."""
        await advisory_xact_lock(self.session, f"licensure-rule-set:{rule_set_id}")

    async def add_once(self, rule_set: RuleSet, published_by: str | None = None) -> bool:
        inserted = await self.session.execute(
            insert(q.RULE_SETS)
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
            .returning(q.RULE_SETS.c.rule_set_id)
        )
        return inserted.first() is not None

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> RuleSet:
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
        self.direct = direct_of(session)

    async def lock_teacher(self, teacher_id: str) -> None:
        """Serialise crediting and license registration for one teacher until the transaction ends.

        Otherwise an award and a new license committing at the same time would each miss the other,
        and the award would never credit that license.
        """
        await advisory_xact_lock(self.session, f"licensure-teacher:{teacher_id}")

    async def add_once(self, license: License) -> bool:
        """Insert the license unless its teacher already registered that number in that state; False then."""
        return await self.direct.inserted(q.INSERT_LICENSE_ONCE, {
            "license_id": license.license_id,
            "teacher_id": license.teacher_id,
            "state": license.state,
            "license_number": license.license_number,
            "license_type": license.license_type,
            "cycle_start": license.cycle_start,
            "cycle_end": license.cycle_end,
            "required_amount": license.required_amount,
            "district": license.district,
            "growth_plan": [str(c) for c in license.growth_plan],
        })

    async def get(self, license_id: UUID) -> License | None:
        row = await self.direct.first(q.SELECT_LICENSE, {"license_id": license_id})
        return None if row is None else self._to_domain(row)

    async def set_growth_plan(self, license_id: UUID, credential_ids: Sequence[UUID]) -> None:
        await self.session.execute(
            sa.update(LicenseRow).where(LicenseRow.license_id == license_id)
            .values(growth_plan=[str(c) for c in credential_ids])
        )

    async def of_teacher(self, teacher_id: str) -> list[License]:
        rows = await self.direct.rows(q.SELECT_LICENSES_OF_TEACHER, {"teacher_id": teacher_id})
        return [self._to_domain(row) for row in rows]

    async def list(
        self, *, everyone: bool, teacher_id: str | None, states: Sequence[str], limit: int, offset: int
    ) -> list[License]:
        query = sa.select(q.LICENSES)
        if not everyone:
            visible: list[sa.ColumnElement[bool]] = [q.LICENSES.c.state.in_(list(states))] if states else []
            if teacher_id is not None:
                visible.append(q.LICENSES.c.teacher_id == teacher_id)
            query = query.where(sa.or_(sa.false(), *visible))
        query = query.order_by(q.LICENSES.c.state, q.LICENSES.c.license_number).limit(limit).offset(offset)
        return [self._to_domain(row) for row in await self.session.execute(query)]

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> License:
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
        self.direct = direct_of(session)

    async def add(self, award: AwardRecord) -> bool:
        """Remember the award; False if it was already known (redelivered, or republished under a new event id).
        A newly added award has no decision on any license yet: every decision is made on a known award."""
        return await self.direct.inserted(q.INSERT_AWARD_ONCE, {
            "award_id": award.award_id,
            "teacher_id": award.teacher_id,
            "credential_id": award.credential_id,
            "credential_version": award.credential_version,
            "credential_name": award.credential_name,
            "issued_at": award.issued_at,
            "issuer_id": award.issuer_id,
            "valid_until": award.valid_until,
            "credential": award.credential,
            "credential_url": award.credential_url,
        })

    async def get(self, award_id: UUID) -> AwardRecord | None:
        row = await self.direct.first(q.SELECT_AWARD, {"award_id": award_id})
        return None if row is None else self._to_domain(row)

    async def record_revocation(self, award_id: UUID, reason: str, at: datetime) -> bool:
        """Remember the revocation, even before the award itself arrives; False if already known."""
        inserted = await self.session.execute(
            q.INSERT_REVOCATION_ONCE, {"award_id": award_id, "reason": reason, "revoked_at": at})
        return inserted.first() is not None

    async def is_revoked(self, award_id: UUID) -> bool:
        found = await self.direct.scalar(q.SELECT_REVOKED_AWARD_ID, {"award_id": award_id})
        return found is not None

    async def record_status_change(self, change: StatusChange) -> bool:
        """Remember a suspension, reinstatement or revocation; False if this very change is already known
        (redelivered, or republished under a new event id), so it is announced once."""
        inserted = await self.session.execute(q.INSERT_STATUS_CHANGE_ONCE, {
            "award_id": change.award_id, "status": change.status, "changed_at": change.changed_at,
            "reason": change.reason, "changed_by": change.changed_by,
        })
        return inserted.first() is not None

    async def status_changes(self, award_id: UUID) -> list[StatusChange]:
        return [
            StatusChange(award_id=row.award_id, status=row.status, changed_at=row.changed_at,  # type: ignore[arg-type]
                         reason=row.reason, changed_by=row.changed_by)
            for row in await self.direct.rows(q.SELECT_STATUS_CHANGES, {"award_id": award_id})
        ]

    async def status_changes_of(self, award_ids: Collection[UUID]) -> dict[UUID, list[StatusChange]]:
        """:meth:`status_changes` of several awards in one statement; an award without changes maps to []."""
        found: dict[UUID, list[StatusChange]] = {award_id: [] for award_id in award_ids}
        if not found:
            return found
        for row in await self.direct.rows(q.SELECT_STATUS_CHANGES_OF_AWARDS, {"award_ids": list(found)}):
            found[row.award_id].append(StatusChange(
                award_id=row.award_id, status=row.status, changed_at=row.changed_at,  # type: ignore[arg-type]
                reason=row.reason, changed_by=row.changed_by))
        return found

    async def of_teacher(self, teacher_id: str) -> list[AwardRecord]:
        rows = await self.direct.rows(q.SELECT_AWARDS_OF_TEACHER, {"teacher_id": teacher_id})
        return [self._to_domain(row) for row in rows]

    async def of_ids(self, award_ids: Collection[UUID]) -> list[AwardRecord]:
        if not award_ids:
            return []
        rows = await self.direct.rows(q.SELECT_AWARDS_BY_IDS, {"award_ids": list(award_ids)})
        return [self._to_domain(row) for row in rows]

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> AwardRecord:
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
        self.direct = direct_of(session)

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
            insert(_CREDENTIAL_VERSIONS)
            .values(credential_id=credential.credential_id, version=credential.version, **values)
            .on_conflict_do_update(
                index_elements=[_CREDENTIAL_VERSIONS.c.credential_id, _CREDENTIAL_VERSIONS.c.version], set_=values
            )
        )

    async def of_keys(self, keys: Collection[tuple[UUID, int]]) -> list[CredentialVersion]:
        """The known versions among (credential_id, version) ``keys``; unknown ones are simply absent."""
        if not keys:
            return []
        query = sa.select(_CREDENTIAL_VERSIONS).where(
            sa.tuple_(_CREDENTIAL_VERSIONS.c.credential_id, _CREDENTIAL_VERSIONS.c.version).in_(list(keys))
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
            for row in await self.session.execute(query)
        ]


class LedgerRepository:
    """Append and read; there is deliberately no update or delete."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def append_once(self, entry: LedgerEntry) -> bool:
        """Append unless (award, license, kind) already has an entry; False when it did."""
        return await self.direct.inserted(q.INSERT_LEDGER_ENTRY_ONCE, {
            "entry_id": entry.entry_id,
            "license_id": entry.license_id,
            "award_id": entry.award_id,
            "kind": entry.kind.value,
            "amount": entry.amount,
            "unit": entry.unit,
            "rule_set_id": entry.rule_set_id,
            "rule_set_version": entry.rule_set_version,
            "earned_on": entry.earned_on,
            "reason": entry.reason,
            "reverses_entry_id": entry.reverses_entry_id,
        })

    async def of_license(self, license_id: UUID) -> list[LedgerEntry]:
        rows = await self.direct.rows(q.SELECT_LEDGER_OF_LICENSE, {"license_id": license_id})
        return [self._to_domain(row) for row in rows]

    async def credit_of(self, award_id: UUID, license_id: UUID) -> LedgerEntry | None:
        row = await self.direct.first(q.SELECT_CREDIT, {"award_id": award_id, "license_id": license_id})
        return None if row is None else self._to_domain(row)

    async def report(self, state: str, start: date, end: date, district: str | None = None) -> list[dict[str, Any]]:
        """Ledger entries of ``state``'s licenses (of ``district`` only, if given) posted in [start, end], with
        what a state report shows."""
        query = (
            sa.select(q.LEDGER, q.LICENSES.c.license_number, q.LICENSES.c.district, q.AWARDS.c.credential_id,
                      q.AWARDS.c.credential_name, q.AWARDS.c.issuer_id)
            .join(q.LICENSES, q.LICENSES.c.license_id == q.LEDGER.c.license_id)
            .outerjoin(q.AWARDS, q.AWARDS.c.award_id == q.LEDGER.c.award_id)
            .where(q.LICENSES.c.state == state, sa.func.date(q.LEDGER.c.posted_at) >= start,
                   sa.func.date(q.LEDGER.c.posted_at) <= end,
                   *([q.LICENSES.c.district == district] if district is not None else []))
            .order_by(q.LEDGER.c.posted_at, q.LEDGER.c.entry_id)
        )
        return [
            {"entry": self._to_domain(row), "license_number": row.license_number, "district": row.district,
             "credential_id": row.credential_id, "credential_name": row.credential_name, "issuer_id": row.issuer_id}
            for row in (await self.session.execute(query)).all()
        ]

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> LedgerEntry:
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
        self.direct = direct_of(session)

    async def pending_by_state(self) -> dict[str, int]:
        """Claims waiting for a district, per state; the partial index on pending claims keeps this small."""
        query = (
            sa.select(q.LICENSES.c.state, sa.func.count())
            .select_from(q.CLAIMS)
            .join(q.LICENSES, q.LICENSES.c.license_id == q.CLAIMS.c.license_id)
            .where(sa.text("credit_claims.status = 'pending_approval'"))
            .group_by(q.LICENSES.c.state)
        )
        return {state: count for state, count in await self.session.execute(query)}

    async def add_once(self, claim: CreditClaim) -> bool:
        return await self.direct.inserted(q.INSERT_CLAIM_ONCE, self._values(claim))

    async def save(self, claim: CreditClaim) -> None:
        await self.direct.execute(q.UPDATE_CLAIM, {
            **self._values(claim), "target_award_id": claim.award_id, "target_license_id": claim.license_id})

    async def get(self, award_id: UUID, license_id: UUID, *, for_update: bool = False) -> CreditClaim | None:
        query = q.SELECT_CLAIM_FOR_UPDATE if for_update else q.SELECT_CLAIM
        row = await self.direct.first(query, {"award_id": award_id, "license_id": license_id})
        return None if row is None else self._to_domain(row)

    async def of_award(self, award_id: UUID) -> list[CreditClaim]:
        rows = await self.direct.rows(q.SELECT_CLAIMS_OF_AWARD_FOR_UPDATE, {"award_id": award_id})
        return [self._to_domain(row) for row in rows]

    async def of_license(self, license_id: UUID) -> list[CreditClaim]:
        rows = await self.direct.rows(q.SELECT_CLAIMS_OF_LICENSE, {"license_id": license_id})
        return [self._to_domain(row) for row in rows]

    async def expired_unannounced(self, now: datetime, limit: int) -> list[CreditClaim]:
        """Decisions on awards past their validUntil whose state has not been told of the expiry yet (the
        expiry sweep's work list, oldest expiry first). A revoked award is left out: it is no longer valid
        anyway, and its state already heard the revocation, which is final."""
        query = (
            sa.select(q.CLAIMS)
            .join(q.AWARDS, q.AWARDS.c.award_id == q.CLAIMS.c.award_id)
            .where(q.AWARDS.c.valid_until.is_not(None), q.AWARDS.c.valid_until <= now,
                   q.CLAIMS.c.expiry_announced_at.is_(None),
                   ~sa.exists().where(q.REVOKED.c.award_id == q.AWARDS.c.award_id))
            .order_by(q.AWARDS.c.valid_until, q.CLAIMS.c.award_id, q.CLAIMS.c.license_id)
            .limit(limit)
        )
        return [self._to_domain(row) for row in await self.session.execute(query)]

    async def mark_expiry_announced(self, award_id: UUID, license_id: UUID, at: datetime) -> bool:
        """Mark the expiry announced unless it already was; False then. Two sweeps racing on one claim: the
        second waits on the row and, once the first commits, finds it marked, so the state hears once."""
        marked = await self.session.execute(
            q.MARK_EXPIRY_ANNOUNCED, {"target_award_id": award_id, "target_license_id": license_id, "at": at})
        return marked.first() is not None

    async def pending(self, state: str, district: str | None, limit: int, offset: int) -> list[CreditClaim]:
        page = {"state": state, "limit": limit, "offset": offset}
        if district is None:
            rows = await self.direct.rows(q.SELECT_PENDING_CLAIMS, page)
        else:
            rows = await self.direct.rows(q.SELECT_PENDING_CLAIMS_OF_DISTRICT, {**page, "district": district})
        return [self._to_domain(row) for row in rows]

    @staticmethod
    def _values(claim: CreditClaim) -> dict[str, Any]:
        return {
            "award_id": claim.award_id, "license_id": claim.license_id, "status": claim.status.value,
            "reason": claim.reason, "earned_on": claim.earned_on, "rule_set_id": claim.rule_set_id,
            "rule_set_version": claim.rule_set_version, "amount": claim.amount, "unit": claim.unit,
            "decided_by": claim.decided_by, "decided_at": claim.decided_at,
        }

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> CreditClaim:
        return CreditClaim(
            award_id=row.award_id, license_id=row.license_id, status=ClaimStatus(row.status), reason=row.reason,
            earned_on=row.earned_on, rule_set_id=row.rule_set_id, rule_set_version=row.rule_set_version,
            amount=row.amount, unit=row.unit, decided_by=row.decided_by, decided_at=row.decided_at,
        )


class StateApprovalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def approve(self, state: str, credential_id: UUID, by: str) -> bool:
        inserted = await self.session.execute(
            insert(q.APPROVALS).values(state=state, credential_id=credential_id, approved_by=by)
            .on_conflict_do_nothing().returning(q.APPROVALS.c.credential_id)
        )
        return inserted.first() is not None

    async def withdraw(self, state: str, credential_id: UUID) -> None:
        await self.session.execute(sa.delete(q.APPROVALS).where(
            q.APPROVALS.c.state == state, q.APPROVALS.c.credential_id == credential_id))

    async def of_state(self, state: str) -> set[UUID]:
        return set(await self.direct.scalars(q.SELECT_APPROVED_CREDENTIALS, {"state": state}))
