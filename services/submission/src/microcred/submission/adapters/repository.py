"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import CriterionFeedback, SubmissionCriteria
from microcred.runtime.direct import direct_of
from microcred.runtime.lru import LeastRecentlyUsed
from microcred.submission.adapters import statements
from microcred.submission.adapters.orm import (
    EvidenceRow,
    PathwayPrerequisiteRow,
    PathwayRow,
    PublishedCredentialRow,
    RetiredCredentialVersionRow,
    SubmissionRow,
)
from microcred.submission.domain.model import (
    FINAL,
    Attempt,
    Evidence,
    EvidenceStatus,
    Pathway,
    PublishedCredential,
    Seat,
    Submission,
    SubmissionStatus,
    UploadMode,
)


class CredentialVersions:
    """The content of published versions already read, kept per process for the use cases of bound submissions.

    Safe to keep across transactions and replicas because a version's ``published_credentials`` row is
    written once (``add`` ignores a second copy), never updated and never deleted, so what one read found
    is what every later read would find. Retirement changes, so it is never kept here (see ``bound_version``).
    The least recently used version goes first once ``max_versions`` are kept.
    """

    def __init__(self, max_versions: int = 1024) -> None:
        self._kept: LeastRecentlyUsed[tuple[UUID, int], PublishedCredential] = LeastRecentlyUsed(max_versions)

    def get(self, credential_id: UUID, version: int) -> PublishedCredential | None:
        return self._kept.get((credential_id, version))

    def keep(self, credential: PublishedCredential) -> None:
        self._kept.keep((credential.credential_id, credential.version), credential)


class CredentialRepository:
    def __init__(self, session: AsyncSession, versions: CredentialVersions | None = None) -> None:
        self.session = session
        self.versions_kept = versions if versions is not None else CredentialVersions()

    async def add(self, credential: PublishedCredential, published_at: datetime) -> None:
        # A published version never changes, so a second copy of it is simply ignored.
        await self.session.execute(
            insert(PublishedCredentialRow)
            .values(
                credential_id=credential.credential_id,
                version=credential.version,
                name=credential.name,
                submission_criteria=credential.submission_criteria.model_dump(mode="json"),
                published_at=published_at,
                max_attempts=credential.max_attempts,
            )
            .on_conflict_do_nothing()
        )

    async def retire(self, credential_id: UUID, version: int, reason: str, retired_at: datetime) -> None:
        # The first retirement of a version is the one kept; retiring is not undone.
        await self.session.execute(
            insert(RetiredCredentialVersionRow)
            .values(credential_id=credential_id, version=version, reason=reason, retired_at=retired_at)
            .on_conflict_do_nothing()
        )

    async def bound_version(self, credential_id: UUID, version: int) -> PublishedCredential | None:
        """The version a submission is bound to: its criteria, name and attempt limit, read once per process.

        A submission keeps its version for good, retired or not (domain.model), so its use cases need the
        version's immutable content and not its retirement: ``retired`` is False here whatever the catalog
        said. Starting a submission, which must see retirement as it is now, reads ``versions`` instead.
        """
        kept = self.versions_kept.get(credential_id, version)
        if kept is not None:
            return kept
        row = await self.session.scalar(
            statements.SELECT_BOUND_VERSION, {"credential_id": credential_id, "version": version}
        )
        if row is None:
            return None
        found = self._to_domain(row, retired=False)
        self.versions_kept.keep(found)
        return found

    async def versions(self, credential_id: UUID) -> list[PublishedCredential]:
        """Every published version of the credential, oldest first, each marked retired or not."""
        rows = await direct_of(self.session).rows(statements.SELECT_VERSIONS, {"credential_id": credential_id})
        return [self._to_domain(row, row.retired) for row in rows]

    async def names(self, credential_ids: Iterable[UUID]) -> dict[UUID, str]:
        """The latest published name of each credential this service knows of."""
        wanted = set(credential_ids)
        if not wanted:
            return {}
        rows = await self.session.execute(statements.SELECT_LATEST_NAMES, {"credential_ids": list(wanted)})
        return {row.credential_id: row.name for row in rows}

    @staticmethod
    def _to_domain(row: Any, retired: bool) -> PublishedCredential:
        """From the ORM entity or a row of its table's columns."""
        return PublishedCredential(
            credential_id=row.credential_id,
            version=row.version,
            name=row.name,
            submission_criteria=SubmissionCriteria.model_validate(row.submission_criteria),
            retired=bool(retired),
            max_attempts=row.max_attempts,
        )


class PathwayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def replace_if_newer(self, pathway: Pathway, changed_at: datetime) -> bool:
        """Keep ``pathway`` if its revision is above the stored one; False (nothing written) otherwise.

        One conditional upsert decides, so two deliveries racing on the same pathway cannot both win.
        """
        values = {
            "pathway_id": pathway.pathway_id,
            "revision": pathway.revision,
            "active": pathway.active,
            "steps": [step.model_dump(mode="json") for step in pathway.steps],
            "changed_at": changed_at,
        }
        statement = insert(PathwayRow).values(**values)
        kept = await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[PathwayRow.pathway_id],
                set_={key: statement.excluded[key] for key in values if key != "pathway_id"},
                where=PathwayRow.revision < statement.excluded.revision,
            ).returning(PathwayRow.pathway_id)
        )
        if kept.first() is None:
            return False
        await self.session.execute(
            sa.delete(PathwayPrerequisiteRow).where(PathwayPrerequisiteRow.pathway_id == pathway.pathway_id)
        )
        links = sorted(pathway.prerequisite_links(), key=str)
        if links:
            await self.session.execute(
                insert(PathwayPrerequisiteRow),
                [
                    {"pathway_id": pathway.pathway_id, "credential_id": credential, "prerequisite_id": needed}
                    for credential, needed in links
                ],
            )
        return True

    async def prerequisites_of(self, credential_id: UUID) -> set[UUID]:
        """The union, over active pathways, of what their steps for ``credential_id`` require."""
        found = await self.direct.scalars(statements.SELECT_PREREQUISITES, {"credential_id": credential_id})
        return set(found)


class EarnedCredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.direct = direct_of(session)

    async def add(self, teacher_id: str, credential_id: UUID, award_id: UUID, earned_at: datetime) -> None:
        await self.direct.execute(
            statements.INSERT_EARNED,
            {"teacher_id": teacher_id, "credential_id": credential_id, "award_id": award_id, "earned_at": earned_at},
        )

    async def among(self, teacher_id: str, credential_ids: Iterable[UUID]) -> set[UUID]:
        """Which of ``credential_ids`` the teacher has earned."""
        wanted = set(credential_ids)
        if not wanted:
            return set()
        found = await self.session.scalars(
            statements.SELECT_EARNED_AMONG, {"teacher_id": teacher_id, "credential_ids": list(wanted)}
        )
        return set(found)


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _submission_values(submission: Submission) -> dict[str, Any]:
    return {
        "teacher_id": submission.teacher_id,
        "credential_id": submission.credential_id,
        "credential_version": submission.credential_version,
        "credential_name": submission.credential_name,
        "states": list(submission.states),
        "teacher_district": submission.teacher_district,
        "teacher_school": submission.teacher_school,
        "status": submission.status.value,
        "attempt": submission.attempt,
        "award_id": submission.award_id,
        "created_at": submission.created_at,
        "responses": [
            {"requirement_key": key, "prompt_index": index, "answer": answer}
            for (key, index), answer in sorted(submission.responses.items())
        ],
        "finalized_at": submission.finalized_at,
        "withdrawal_reason": submission.withdrawal_reason,
    }


def _attempt_values(attempt: Attempt) -> dict[str, Any]:
    return {
        "submitted_at": attempt.submitted_at,
        "reviewer_id": attempt.reviewer_id,
        "assigned_seats": _seats(attempt.assigned_seats),
        "released_seats": _seats(attempt.released_seats),
        "expected_decision_at": attempt.expected_decision_at,
        "feedback": [f.model_dump(mode="json") for f in attempt.feedback],
        "feedback_received_at": attempt.feedback_received_at,
        "note_to_reviewer": attempt.note_to_reviewer,
    }


def _evidence_values(evidence: Evidence) -> dict[str, Any]:
    values: dict[str, Any] = {
        "requirement_key": evidence.requirement_key,
        "filename": evidence.filename,
        "content_type": evidence.content_type,
        "size_bytes": evidence.size_bytes,
        "sha256": evidence.sha256,
        "object_key": evidence.object_key,
        "status": evidence.status.value,
        "etag": evidence.etag,
        "uploaded_at": evidence.uploaded_at,
        "upload_mode": evidence.upload_mode.value,
        "upload_id": evidence.upload_id,
        "part_size": evidence.part_size,
        "part_count": evidence.part_count,
        "sniffed_content_type": evidence.sniffed_content_type,
        "duration_seconds": evidence.duration_seconds,
        "media": evidence.media,
        "rejection": evidence.rejection,
        "submitted_in": evidence.submitted_in,
        "removed_at": evidence.removed_at,
        "verified_key": evidence.verified_key,
        "captions_for": evidence.captions_for,
    }
    # A new item takes the database's clock (created_at's server default) until it has been stored.
    if evidence.registered_at is not None:
        values["created_at"] = evidence.registered_at
    return values


@dataclass(frozen=True)
class _Stored:
    """The row values of an aggregate as it was read, so that a save writes only what changed."""

    submission: dict[str, Any]
    attempts: dict[int, dict[str, Any]]
    evidence: dict[UUID, dict[str, Any]]

    @classmethod
    def of(cls, submission: Submission) -> _Stored:
        return cls(
            _submission_values(submission),
            {a.number: _attempt_values(a) for a in submission.attempts},
            {e.evidence_id: _evidence_values(e) for e in submission.evidence},
        )


_VERIFIED_IN_PLACE = sa.and_(
    EvidenceRow.uploaded_at.is_not(None), EvidenceRow.verified_key.is_(None), EvidenceRow.removed_at.is_(None)
)
_SUBMISSIONS = statements.SUBMISSIONS


class SubmissionRepository:
    """Submissions as aggregates, read in one statement and written as the changes since the read.

    Core statements rather than the ORM's unit of work: every request and every event handler here
    reads one aggregate and saves it, and the ORM spent more than the database did (a second SELECT
    per child row at save time, once the loaded rows had been garbage-collected from its identity map).
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Reads and writes go past SQLAlchemy's execution layer (runtime.direct).
        self.direct = direct_of(session)
        self._stored: dict[UUID, _Stored] = {}

    async def get(self, submission_id: UUID, *, for_update: bool = False) -> Submission | None:
        query = statements.SELECT_SUBMISSION_FOR_UPDATE if for_update else statements.SELECT_SUBMISSION
        row = await self.direct.first(query, {"submission_id": submission_id})
        return None if row is None else self._to_domain(row)

    async def list_recent(
        self, *, teacher_id: str | None, limit: int, offset: int
    ) -> list[Submission]:
        query = statements.AGGREGATE
        if teacher_id is not None:
            query = query.where(_SUBMISSIONS.c.teacher_id == teacher_id)
        query = query.order_by(_SUBMISSIONS.c.created_at.desc(), _SUBMISSIONS.c.submission_id).limit(limit).offset(offset)
        return [self._to_domain(row) for row in await self.session.execute(query)]

    async def count_by_status(self) -> dict[str, int]:
        """One grouped scan for the status gauge (a sequential scan of narrow rows; see docs/operations)."""
        query = sa.select(_SUBMISSIONS.c.status, sa.func.count()).group_by(_SUBMISSIONS.c.status)
        return {status: count for status, count in await self.session.execute(query)}

    async def final_with_stored_evidence(self, cutoff: datetime, limit: int) -> list[UUID]:
        """Submissions decided (awarded or withdrawn) no later than ``cutoff`` whose evidence still has bytes."""
        holds_bytes = (
            sa.select(EvidenceRow.evidence_id)
            .where(
                EvidenceRow.submission_id == SubmissionRow.submission_id,
                EvidenceRow.removed_at.is_(None),
                EvidenceRow.status != EvidenceStatus.REJECTED.value,
            )
            .exists()
        )
        found = await self.session.scalars(
            sa.select(SubmissionRow.submission_id)
            .where(
                SubmissionRow.status.in_([s.value for s in FINAL]),
                SubmissionRow.finalized_at <= cutoff,
                holds_bytes,
            )
            .order_by(SubmissionRow.finalized_at)
            .limit(limit)
        )
        return list(found)

    async def pending_uploads_before(self, cutoff: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """(submission, evidence) of items declared no later than ``cutoff`` and never completed."""
        rows = await self.session.execute(
            sa.select(EvidenceRow.submission_id, EvidenceRow.evidence_id)
            .where(EvidenceRow.status == EvidenceStatus.PENDING.value, EvidenceRow.created_at <= cutoff)
            .order_by(EvidenceRow.created_at)
            .limit(limit)
        )
        return [(row.submission_id, row.evidence_id) for row in rows]

    async def pending_upload_ids(self, upload_ids: Iterable[str]) -> set[str]:
        """Which of these multipart upload ids belong to an item still waiting for its upload."""
        wanted = set(upload_ids)
        if not wanted:
            return set()
        found = await self.session.scalars(
            sa.select(EvidenceRow.upload_id).where(
                EvidenceRow.upload_id.in_(wanted), EvidenceRow.status == EvidenceStatus.PENDING.value
            )
        )
        return {u for u in found if u is not None}

    async def verified_in_place(self, limit: int) -> list[tuple[UUID, UUID]]:
        """(submission, evidence) of items verified before sealing existed whose bytes are still held
        (``Evidence.verified_in_place``), oldest first."""
        rows = await self.session.execute(
            sa.select(EvidenceRow.submission_id, EvidenceRow.evidence_id)
            .where(_VERIFIED_IN_PLACE)
            .order_by(EvidenceRow.created_at)
            .limit(limit)
        )
        return [(row.submission_id, row.evidence_id) for row in rows]

    async def upload_keys_needed(self, object_keys: Iterable[str]) -> dict[str, bool]:
        """For each of these upload keys an item has, whether the item still needs what is stored there
        (``Evidence.needs_upload_key``); keys no item has are left out."""
        wanted = set(object_keys)
        if not wanted:
            return {}
        needed = sa.and_(
            sa.or_(EvidenceRow.verified_key.is_(None), EvidenceRow.verified_key == EvidenceRow.object_key),
            EvidenceRow.removed_at.is_(None),
            EvidenceRow.status != EvidenceStatus.REJECTED.value,
        )
        rows = await self.session.execute(
            sa.select(EvidenceRow.object_key, needed.label("needed")).where(EvidenceRow.object_key.in_(wanted))
        )
        return {row.object_key: bool(row.needed) for row in rows}

    async def add(self, submission: Submission) -> None:
        current = _Stored.of(submission)
        await self.direct.execute(
            statements.INSERT_SUBMISSION, {"submission_id": submission.submission_id, **current.submission}
        )
        await self._write_children(submission.submission_id, _Stored({}, {}, {}), current)
        self._stored[submission.submission_id] = current

    async def save(self, submission: Submission) -> None:
        stored = self._stored.get(submission.submission_id)
        assert stored is not None, "save() follows get() or add() in the same unit of work"
        current = _Stored.of(submission)
        if changed := _changes(stored.submission, current.submission):
            await self.direct.execute(
                statements.UPDATE_SUBMISSION, {"b_submission_id": submission.submission_id, **changed}
            )
        await self._write_children(submission.submission_id, stored, current)
        self._stored[submission.submission_id] = current

    async def _write_children(self, submission_id: UUID, before: _Stored, after: _Stored) -> None:
        # Inserts go in one statement per table; an attempt's update is its own statement with only the
        # changed columns (an event changes one attempt). Items that changed alike (submitting stamps every
        # uploaded item with the attempt) share one statement.
        new_attempts: list[dict[str, Any]] = []
        for number, values in after.attempts.items():
            earlier = before.attempts.get(number)
            if earlier is None:
                new_attempts.append({"submission_id": submission_id, "number": number, **values})
            elif changed := _changes(earlier, values):
                await self.direct.execute(
                    statements.UPDATE_ATTEMPT, {"b_submission_id": submission_id, "b_number": number, **changed}
                )
        if new_attempts:
            await self.direct.execute(statements.INSERT_ATTEMPTS, new_attempts)
        alike: list[tuple[dict[str, Any], list[UUID]]] = []
        for evidence_id, values in after.evidence.items():
            earlier = before.evidence.get(evidence_id)
            if earlier is None:
                # One by one: items differ in which columns they set (created_at is the server's when absent).
                await self.direct.execute(
                    statements.INSERT_EVIDENCE, {"evidence_id": evidence_id, "submission_id": submission_id, **values}
                )
            elif changed := _changes(earlier, values):
                same = next((ids for values_of, ids in alike if values_of == changed), None)
                if same is None:
                    alike.append((changed, [evidence_id]))
                else:
                    same.append(evidence_id)
        for changed, ids in alike:
            if len(ids) == 1:
                await self.direct.execute(statements.UPDATE_ONE_EVIDENCE, {"b_evidence_id": ids[0], **changed})
            else:
                await self.direct.execute(statements.UPDATE_EVIDENCE_AMONG, {"b_evidence_ids": ids, **changed})

    def _to_domain(self, row: sa.Row[Any]) -> Submission:
        submission = Submission(
            submission_id=row.submission_id,
            teacher_id=row.teacher_id,
            credential_id=row.credential_id,
            credential_version=row.credential_version,
            credential_name=row.credential_name,
            states=tuple(row.states),
            created_at=row.created_at,
            status=SubmissionStatus(row.status),
            teacher_district=row.teacher_district,
            teacher_school=row.teacher_school,
            attempt=row.attempt,
            attempts=[_attempt(a) for a in row.attempt_rows or ()],
            evidence=[_evidence(e) for e in row.evidence_rows or ()],
            award_id=row.award_id,
            responses={(r["requirement_key"], int(r["prompt_index"])): str(r["answer"]) for r in row.responses},
            finalized_at=row.finalized_at,
            withdrawal_reason=row.withdrawal_reason,
        )
        self._stored[submission.submission_id] = _Stored.of(submission)
        return submission


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in after.items() if key not in before or before[key] != value}


# The children arrive as JSON (see statements.AGGREGATE): uuids and times as strings, numbers as numbers.
def _attempt(a: dict[str, Any]) -> Attempt:
    return Attempt(
        number=a["number"],
        submitted_at=datetime.fromisoformat(a["submitted_at"]),
        reviewer_id=a["reviewer_id"],
        feedback=tuple(CriterionFeedback.model_validate(f) for f in a["feedback"]),
        feedback_received_at=_when(a["feedback_received_at"]),
        assigned_seats=_seats_of(a["assigned_seats"]),
        released_seats=_seats_of(a["released_seats"]),
        expected_decision_at=_when(a["expected_decision_at"]),
        note_to_reviewer=a.get("note_to_reviewer"),
    )


def _seats(seats: frozenset[Seat]) -> list[dict[str, Any]]:
    # Sorted, so that an unchanged set compares equal to what was read and is not written again.
    return [{"role": s.role, "reviewer_id": s.reviewer_id}
            for s in sorted(seats, key=lambda s: (s.reviewer_id, s.role or ""))]


def _seats_of(stored: list[dict[str, Any]] | None) -> frozenset[Seat]:
    return frozenset(Seat(s["role"], s["reviewer_id"]) for s in stored or ())


def _evidence(e: dict[str, Any]) -> Evidence:
    duration = e["duration_seconds"]
    return Evidence(
        evidence_id=UUID(e["evidence_id"]),
        requirement_key=e["requirement_key"],
        filename=e["filename"],
        content_type=e["content_type"],
        size_bytes=e["size_bytes"],
        sha256=e["sha256"],
        object_key=e["object_key"],
        status=EvidenceStatus(e["status"]),
        etag=e["etag"],
        uploaded_at=_when(e["uploaded_at"]),
        registered_at=datetime.fromisoformat(e["created_at"]),
        upload_mode=UploadMode(e["upload_mode"]),
        upload_id=e["upload_id"],
        part_size=e["part_size"],
        part_count=e["part_count"],
        sniffed_content_type=e["sniffed_content_type"],
        duration_seconds=None if duration is None else float(duration),
        media=e["media"],
        rejection=e["rejection"],
        submitted_in=e["submitted_in"],
        removed_at=_when(e["removed_at"]),
        verified_key=e["verified_key"],
        captions_for=UUID(e["captions_for"]) if e.get("captions_for") else None,
    )
