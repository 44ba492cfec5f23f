"""Repositories translate between rows and domain objects; the unit of work owns the session.

Every statement here is Core, on the tables (``Row.__table__``), not on the mapped classes, and built once (in
``adapters.statements``, which says why): each use case reads rows only to build domain objects and writes with
explicit INSERTs and UPDATEs, so the ORM's work per statement (bulk DML plumbing, the identity map walked to keep
loaded objects in step with an UPDATE, mapped instances built and then thrown away) cost the issuing path more
Python than its database did. Because no mapped object is ever loaded into the session, an UPDATE has no loaded
object to keep in step.

The immutable rows a transaction may read several times, credential versions and submitted attempts, are
remembered per unit of work (a repository lives as long as its unit of work): a version arriving after its
scores reads itself once for all the awards it issues. The identity map did not give that, being weak: the
row was gone by the next award.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.award.adapters import statements
from microcred.award.domain.model import (
    Award,
    AwardStatus,
    Collection,
    CredentialVersion,
    SigningKey,
    Standing,
    StatusPurpose,
    SubmittedAttempt,
)
from microcred.events import Alignment, CriterionResult, IssuerProfile, Rubric, SubmissionCriteria
from microcred.runtime.direct import direct_of
from microcred.runtime.locks import advisory_xact_lock


class CredentialVersionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)
        # Published versions never change: one read per unit of work (see the module).
        self._known: dict[tuple[UUID, int], CredentialVersion] = {}

    async def lock(self, credential_id: UUID, version: int) -> None:
        """Serialise the two handlers that meet on one credential version until the transaction ends.

        Without it a score could store a pending award while the version's arrival, in a concurrent
        transaction, looks for pending awards and misses it: the award would wait forever.
        """
        await advisory_xact_lock(self.session, f"{credential_id}:v{version}")

    async def get(self, credential_id: UUID, version: int) -> CredentialVersion | None:
        key = (credential_id, version)
        if key in self._known:
            return self._known[key]
        row = await self.direct.first(
            statements.SELECT_CREDENTIAL_VERSION, {"credential_id": credential_id, "version": version}
        )
        if row is None:
            return None
        credential = self._known[key] = self._to_domain(row)
        return credential

    async def add(self, credential: CredentialVersion) -> bool:
        """Store a version once; False if it was already known (published versions never change)."""
        inserted = await self.session.execute(statements.INSERT_CREDENTIAL_VERSION_ONCE, {
            "credential_id": credential.credential_id,
            "version": credential.version,
            "issuer": credential.issuer.model_dump(mode="json"),
            "name": credential.name,
            "description": credential.description,
            "competency": credential.competency,
            "rubric": credential.rubric.model_dump(mode="json"),
            "submission_criteria": credential.submission_criteria.model_dump(mode="json"),
            "alignments": [alignment.model_dump(mode="json") for alignment in credential.alignments],
            "image_url": credential.image_url,
            "expiry_months": credential.expiry_months,
        })
        return inserted.first() is not None

    async def issuer_profile(self, issuer_id: UUID) -> IssuerProfile | None:
        """The issuer as its newest published credential version describes it."""
        issuer = await self.direct.scalar(statements.SELECT_NEWEST_ISSUER_PROFILE, {"issuer_id": str(issuer_id)})
        return None if issuer is None else IssuerProfile.model_validate(issuer)

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> CredentialVersion:
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
        # Reads and writes go past SQLAlchemy's execution layer (runtime.direct).
        self.direct = direct_of(session)

    async def add_once(self, award: Award) -> bool:
        """Insert the award unless its submission already has one; False when it did."""
        return await self.direct.inserted(statements.INSERT_AWARD_ONCE, self._to_values(award))

    async def save(self, award: Award) -> None:
        await self.direct.execute(statements.UPDATE_AWARD, self._to_values(award) | {"where_award_id": award.award_id})

    async def get(self, award_id: UUID) -> Award | None:
        row = await self.direct.first(statements.SELECT_AWARD, {"award_id": award_id})
        return None if row is None else self._to_domain(row)

    async def lock_submission(self, submission_id: UUID) -> None:
        """Serialise the score and the submitted attempt meeting on one submission (see ``lock`` above)."""
        await advisory_xact_lock(self.session, f"submission:{submission_id}")

    async def get_for_update(self, award_id: UUID) -> Award | None:
        row = await self.direct.first(statements.SELECT_AWARD_FOR_UPDATE, {"award_id": award_id})
        return None if row is None else self._to_domain(row)

    async def add_collection_once(self, award: Award) -> bool:
        """Insert a collection award unless the teacher already holds this stack's or pathway's."""
        return await self.direct.inserted(statements.INSERT_COLLECTION_AWARD_ONCE, self._to_values(award))

    async def pending_for_submission(self, submission_id: UUID) -> list[Award]:
        rows = await self.direct.rows(
            statements.SELECT_PENDING_AWARDS_OF_SUBMISSION, {"submission_id": submission_id}
        )
        return [self._to_domain(row) for row in rows]

    async def held_by(self, teacher_id: str) -> list[Award]:
        """The teacher's issued micro-credential awards in good standing (suspended ones do not count)."""
        rows = await self.direct.rows(statements.SELECT_AWARDS_HELD_BY, {"teacher_id": teacher_id})
        return [self._to_domain(row) for row in rows]

    async def teachers_holding_all(self, credential_ids: tuple[UUID, ...]) -> list[str]:
        return list(await self.direct.scalars(statements.SELECT_TEACHERS_HOLDING_ALL, {
            "credential_ids": list(credential_ids), "distinct_credentials": len(set(credential_ids)),
        }))

    async def has_collection(self, teacher_id: str, kind: str, collection_id: UUID) -> bool:
        found = await self.direct.scalar(statements.SELECT_COLLECTION_AWARD_ID, {
            "teacher_id": teacher_id, "kind": kind, "collection_id": collection_id,
        })
        return found is not None

    async def pending_for(self, credential_id: UUID, version: int) -> list[Award]:
        rows = await self.direct.rows(statements.SELECT_PENDING_AWARDS_OF_VERSION, {
            "credential_id": credential_id, "version": version,
        })
        return [self._to_domain(row) for row in rows]

    async def list(self, *, teacher_id: str | None, limit: int, offset: int) -> list[Award]:
        if teacher_id is None:
            rows = await self.direct.rows(statements.SELECT_AWARDS_PAGE, {"limit": limit, "offset": offset})
        else:
            rows = await self.direct.rows(statements.SELECT_AWARDS_PAGE_OF_TEACHER, {
                "teacher_id": teacher_id, "limit": limit, "offset": offset,
            })
        return [self._to_domain(row) for row in rows]

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
            "kind": award.kind,
            "attempt": award.attempt,
            "component_award_ids": [str(component) for component in award.component_award_ids],
            "standing": award.standing.value,
            "standing_reason": award.standing_reason,
            "standing_changed_at": award.standing_changed_at,
            "standing_changed_by": award.standing_changed_by,
            "status_list": award.status_list,
            "status_index": award.status_index,
        }

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> Award:
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
            kind=row.kind,  # type: ignore[arg-type]
            attempt=row.attempt,
            component_award_ids=tuple(UUID(component) for component in row.component_award_ids),
            standing=Standing(row.standing),
            standing_reason=row.standing_reason,
            standing_changed_at=row.standing_changed_at,
            standing_changed_by=row.standing_changed_by,
            status_list=row.status_list,
            status_index=row.status_index,
        )


class AttemptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)
        # A submitted attempt is written once and never changed: one read per unit of work (see the module).
        self._known: dict[tuple[UUID, int], SubmittedAttempt] = {}

    async def add(self, attempt: SubmittedAttempt) -> None:
        await self.direct.execute(statements.INSERT_ATTEMPT_ONCE, {
            "submission_id": attempt.submission_id,
            "attempt": attempt.attempt,
            "teacher_id": attempt.teacher_id,
            "teacher_email": attempt.teacher_email,
            "teacher_did": attempt.teacher_did,
            "evidence": [list(item) for item in attempt.evidence],
            "responses": [list(item) for item in attempt.responses],
        })

    async def get(self, submission_id: UUID, attempt: int) -> SubmittedAttempt | None:
        key = (submission_id, attempt)
        if key in self._known:
            return self._known[key]
        row = await self.direct.first(
            statements.SELECT_ATTEMPT, {"submission_id": submission_id, "attempt": attempt}
        )
        if row is None:
            return None
        found = self._known[key] = SubmittedAttempt(
            submission_id=row.submission_id,
            attempt=row.attempt,
            teacher_id=row.teacher_id,
            teacher_email=row.teacher_email,
            teacher_did=row.teacher_did,
            evidence=tuple((key, count, seconds) for key, count, seconds in row.evidence),
            responses=tuple((item, count) for item, count in row.responses),
        )
        return found


class CollectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def keep_newest(self, collection: Collection) -> bool:
        """Store the collection unless a later revision is already known; True when stored."""
        values: dict[str, Any] = {
            "kind": collection.kind,
            "collection_id": collection.collection_id,
            "revision": collection.revision,
            "issuer_id": collection.issuer_id,
            "name": collection.name,
            "description": collection.description,
            "credential_ids": [str(c) for c in collection.credential_ids],
            "active": collection.active,
        }
        return (await self.session.execute(statements.UPSERT_NEWER_COLLECTION, values)).first() is not None

    async def get(self, kind: str, collection_id: UUID) -> Collection | None:
        row = await self.direct.first(
            statements.SELECT_COLLECTION, {"kind": kind, "collection_id": collection_id}
        )
        return None if row is None else self._to_domain(row)

    async def containing(self, credential_id: UUID) -> list[Collection]:
        rows = await self.direct.rows(statements.SELECT_ACTIVE_COLLECTIONS_CONTAINING, {
            "credential_ids": [str(credential_id)],
        })
        return [self._to_domain(row) for row in rows]

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> Collection:
        return Collection(
            kind=row.kind,  # type: ignore[arg-type]
            collection_id=row.collection_id,
            revision=row.revision,
            issuer_id=row.issuer_id,
            name=row.name,
            description=row.description,
            credential_ids=tuple(UUID(c) for c in row.credential_ids),
            active=row.active,
        )


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def lock_scope(self, scope: str) -> None:
        """Serialise key creation and rotation per scope, so a scope never gets two active keys."""
        await advisory_xact_lock(self.session, f"signing-key:{scope}")

    async def active(self, scope: str) -> tuple[SigningKey, bytes] | None:
        row = await self.direct.first(statements.SELECT_ACTIVE_KEY, {"scope": scope})
        return None if row is None else (self._to_domain(row), row.encrypted_private_key)

    async def get(self, key_id: str) -> SigningKey | None:
        row = await self.direct.first(statements.SELECT_KEY, {"key_id": key_id})
        return None if row is None else self._to_domain(row)

    async def all_for(self, scope: str) -> list[SigningKey]:
        rows = await self.direct.rows(statements.SELECT_KEYS_OF_SCOPE, {"scope": scope})
        return [self._to_domain(row) for row in rows]

    async def add(self, key: SigningKey, sealed: bytes) -> None:
        await self.session.execute(statements.INSERT_KEY, {
            "key_id": key.key_id, "scope": key.scope, "public_key_multibase": key.public_key_multibase,
            "encrypted_private_key": sealed, "created_at": key.created_at, "retired_at": None,
        })

    async def retire(self, key_id: str, at: datetime) -> None:
        await self.session.execute(statements.RETIRE_KEY, {"retired_at": at, "where_key_id": key_id})

    @staticmethod
    def _to_domain(row: sa.Row[Any]) -> SigningKey:
        return SigningKey(
            key_id=row.key_id, scope=row.scope, public_key_multibase=row.public_key_multibase,
            created_at=row.created_at, retired_at=row.retired_at,
        )


class StatusListRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def newest_list(self, issuer_id: UUID) -> int | None:
        return await self.direct.scalar(statements.SELECT_NEWEST_LIST_NO, {"issuer_id": issuer_id})

    async def add(self, issuer_id: UUID, purpose: StatusPurpose, list_no: int, bits: bytes,
                  document: dict[str, Any], at: datetime) -> None:
        """Create a list unless a concurrent transaction just did (its empty list is the same)."""
        await self.session.execute(statements.INSERT_STATUS_LIST_ONCE, {
            "issuer_id": issuer_id, "purpose": purpose, "list_no": list_no, "bits": bits, "document": document,
            "updated_at": at,
        })

    async def get(self, issuer_id: UUID, purpose: str, list_no: int, *, for_update: bool = False
                  ) -> tuple[bytes, dict[str, Any], datetime] | None:
        query = statements.SELECT_STATUS_LIST_FOR_UPDATE if for_update else statements.SELECT_STATUS_LIST
        row = await self.direct.first(
            query, {"issuer_id": issuer_id, "purpose": purpose, "list_no": list_no}
        )
        return None if row is None else (row.bits, row.document, row.updated_at)

    async def save(self, issuer_id: UUID, purpose: str, list_no: int, bits: bytes, document: dict[str, Any],
                   at: datetime) -> None:
        await self.session.execute(statements.UPDATE_STATUS_LIST, {
            "bits": bits, "document": document, "updated_at": at,
            "where_issuer_id": issuer_id, "where_purpose": purpose, "where_list_no": list_no,
        })

    async def allocate(self, issuer_id: UUID, list_no: int, index: int, award_id: UUID) -> bool:
        """Claim one position of a list for an award; False when another award holds it."""
        return await self.direct.inserted(statements.INSERT_ALLOCATION_ONCE, {
            "issuer_id": issuer_id, "list_no": list_no, "status_index": index, "award_id": award_id,
        })

    async def allocated(self, issuer_id: UUID, list_no: int) -> int:
        return await self.direct.scalar(
            statements.COUNT_ALLOCATIONS, {"issuer_id": issuer_id, "list_no": list_no}
        ) or 0
