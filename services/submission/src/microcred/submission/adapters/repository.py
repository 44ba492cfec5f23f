"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import CriterionFeedback, SubmissionCriteria
from microcred.submission.adapters.orm import (
    AttemptRow,
    EarnedCredentialRow,
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
    Submission,
    SubmissionStatus,
    UploadMode,
)


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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

    def _select(self) -> sa.Select[PublishedCredentialRow, bool]:
        retired = (
            sa.select(RetiredCredentialVersionRow.version)
            .where(
                RetiredCredentialVersionRow.credential_id == PublishedCredentialRow.credential_id,
                RetiredCredentialVersionRow.version == PublishedCredentialRow.version,
            )
            .exists()
        )
        return sa.select(PublishedCredentialRow, retired)

    async def get(self, credential_id: UUID, version: int) -> PublishedCredential | None:
        found = (
            await self.session.execute(
                self._select().where(
                    PublishedCredentialRow.credential_id == credential_id, PublishedCredentialRow.version == version
                )
            )
        ).first()
        return None if found is None else self._to_domain(found[0], found[1])

    async def versions(self, credential_id: UUID) -> list[PublishedCredential]:
        """Every published version of the credential, oldest first, each marked retired or not."""
        rows = await self.session.execute(
            self._select()
            .where(PublishedCredentialRow.credential_id == credential_id)
            .order_by(PublishedCredentialRow.version)
        )
        return [self._to_domain(row, retired) for row, retired in rows.all()]

    async def names(self, credential_ids: Iterable[UUID]) -> dict[UUID, str]:
        """The latest published name of each credential this service knows of."""
        wanted = set(credential_ids)
        if not wanted:
            return {}
        rows = await self.session.execute(
            sa.select(PublishedCredentialRow.credential_id, PublishedCredentialRow.name)
            .where(PublishedCredentialRow.credential_id.in_(wanted))
            .order_by(PublishedCredentialRow.credential_id, PublishedCredentialRow.version.desc())
            .distinct(PublishedCredentialRow.credential_id)
        )
        return {row.credential_id: row.name for row in rows}

    @staticmethod
    def _to_domain(row: PublishedCredentialRow, retired: bool) -> PublishedCredential:
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
        found = await self.session.scalars(
            sa.select(PathwayPrerequisiteRow.prerequisite_id)
            .where(PathwayPrerequisiteRow.credential_id == credential_id)
            .distinct()
        )
        return set(found)


class EarnedCredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, teacher_id: str, credential_id: UUID, award_id: UUID, earned_at: datetime) -> None:
        # The first award of a credential is the one kept: a second one earns nothing more.
        await self.session.execute(
            insert(EarnedCredentialRow)
            .values(teacher_id=teacher_id, credential_id=credential_id, award_id=award_id, earned_at=earned_at)
            .on_conflict_do_nothing()
        )

    async def among(self, teacher_id: str, credential_ids: Iterable[UUID]) -> set[UUID]:
        """Which of ``credential_ids`` the teacher has earned."""
        wanted = set(credential_ids)
        if not wanted:
            return set()
        found = await self.session.scalars(
            sa.select(EarnedCredentialRow.credential_id).where(
                EarnedCredentialRow.teacher_id == teacher_id, EarnedCredentialRow.credential_id.in_(wanted)
            )
        )
        return set(found)


class SubmissionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, submission_id: UUID, *, for_update: bool = False) -> Submission | None:
        query = sa.select(SubmissionRow).where(SubmissionRow.submission_id == submission_id)
        if for_update:
            query = query.with_for_update()
        row = await self.session.scalar(query)
        if row is None:
            return None
        return (await self._load([row]))[0]

    async def list_recent(
        self, *, teacher_id: str | None, limit: int, offset: int
    ) -> list[Submission]:
        query = sa.select(SubmissionRow)
        if teacher_id is not None:
            query = query.where(SubmissionRow.teacher_id == teacher_id)
        query = query.order_by(SubmissionRow.created_at.desc(), SubmissionRow.submission_id).limit(limit).offset(offset)
        return await self._load(list(await self.session.scalars(query)))

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

    async def add(self, submission: Submission) -> None:
        row = SubmissionRow(submission_id=submission.submission_id)
        self._apply(row, submission)
        self.session.add(row)
        await self._save_children(submission)

    async def save(self, submission: Submission) -> None:
        row = await self.session.get(SubmissionRow, submission.submission_id)
        assert row is not None, "save() follows get(), which loaded the row into this session"
        self._apply(row, submission)
        await self._save_children(submission)

    @staticmethod
    def _apply(row: SubmissionRow, submission: Submission) -> None:
        row.teacher_id = submission.teacher_id
        row.credential_id = submission.credential_id
        row.credential_version = submission.credential_version
        row.credential_name = submission.credential_name
        row.states = list(submission.states)
        row.teacher_district = submission.teacher_district
        row.teacher_school = submission.teacher_school
        row.status = submission.status.value
        row.attempt = submission.attempt
        row.award_id = submission.award_id
        row.created_at = submission.created_at
        row.responses = [
            {"requirement_key": key, "prompt_index": index, "answer": answer}
            for (key, index), answer in sorted(submission.responses.items())
        ]
        row.finalized_at = submission.finalized_at
        row.withdrawal_reason = submission.withdrawal_reason

    async def _save_children(self, submission: Submission) -> None:
        # The parent row must exist before its children reference it.
        await self.session.flush()
        for attempt in submission.attempts:
            attempt_row = await self.session.get(AttemptRow, (submission.submission_id, attempt.number))
            if attempt_row is None:
                attempt_row = AttemptRow(submission_id=submission.submission_id, number=attempt.number)
                self.session.add(attempt_row)
            attempt_row.submitted_at = attempt.submitted_at
            attempt_row.reviewer_id = attempt.reviewer_id
            attempt_row.reviewer_ids = sorted(attempt.reviewer_ids)
            attempt_row.expected_decision_at = attempt.expected_decision_at
            attempt_row.feedback = [f.model_dump(mode="json") for f in attempt.feedback]
            attempt_row.feedback_received_at = attempt.feedback_received_at
        for evidence in submission.evidence:
            evidence_row = await self.session.get(EvidenceRow, evidence.evidence_id)
            if evidence_row is None:
                evidence_row = EvidenceRow(evidence_id=evidence.evidence_id, submission_id=submission.submission_id)
                self.session.add(evidence_row)
            evidence_row.requirement_key = evidence.requirement_key
            evidence_row.filename = evidence.filename
            evidence_row.content_type = evidence.content_type
            evidence_row.size_bytes = evidence.size_bytes
            evidence_row.sha256 = evidence.sha256
            evidence_row.object_key = evidence.object_key
            evidence_row.status = evidence.status.value
            evidence_row.etag = evidence.etag
            evidence_row.uploaded_at = evidence.uploaded_at
            if evidence.registered_at is not None:
                evidence_row.created_at = evidence.registered_at
            evidence_row.upload_mode = evidence.upload_mode.value
            evidence_row.upload_id = evidence.upload_id
            evidence_row.part_size = evidence.part_size
            evidence_row.part_count = evidence.part_count
            evidence_row.sniffed_content_type = evidence.sniffed_content_type
            evidence_row.duration_seconds = evidence.duration_seconds
            evidence_row.media = evidence.media
            evidence_row.rejection = evidence.rejection
            evidence_row.submitted_in = evidence.submitted_in
            evidence_row.removed_at = evidence.removed_at

    async def _load(self, rows: list[SubmissionRow]) -> list[Submission]:
        if not rows:
            return []
        ids = [row.submission_id for row in rows]
        attempts: dict[UUID, list[Attempt]] = {i: [] for i in ids}
        for a in await self.session.scalars(
            sa.select(AttemptRow).where(AttemptRow.submission_id.in_(ids)).order_by(AttemptRow.number)
        ):
            attempts[a.submission_id].append(
                Attempt(
                    number=a.number,
                    submitted_at=a.submitted_at,
                    reviewer_id=a.reviewer_id,
                    feedback=tuple(CriterionFeedback.model_validate(f) for f in a.feedback),
                    feedback_received_at=a.feedback_received_at,
                    reviewer_ids=frozenset(a.reviewer_ids or ()),
                    expected_decision_at=a.expected_decision_at,
                )
            )
        evidence: dict[UUID, list[Evidence]] = {i: [] for i in ids}
        for e in await self.session.scalars(
            sa.select(EvidenceRow)
            .where(EvidenceRow.submission_id.in_(ids))
            .order_by(EvidenceRow.created_at, EvidenceRow.evidence_id)
        ):
            evidence[e.submission_id].append(
                Evidence(
                    evidence_id=e.evidence_id,
                    requirement_key=e.requirement_key,
                    filename=e.filename,
                    content_type=e.content_type,
                    size_bytes=e.size_bytes,
                    sha256=e.sha256,
                    object_key=e.object_key,
                    status=EvidenceStatus(e.status),
                    etag=e.etag,
                    uploaded_at=e.uploaded_at,
                    registered_at=e.created_at,
                    upload_mode=UploadMode(e.upload_mode),
                    upload_id=e.upload_id,
                    part_size=e.part_size,
                    part_count=e.part_count,
                    sniffed_content_type=e.sniffed_content_type,
                    duration_seconds=e.duration_seconds,
                    media=e.media,
                    rejection=e.rejection,
                    submitted_in=e.submitted_in,
                    removed_at=e.removed_at,
                )
            )
        return [
            Submission(
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
                attempts=attempts[row.submission_id],
                evidence=evidence[row.submission_id],
                award_id=row.award_id,
                responses={(r["requirement_key"], int(r["prompt_index"])): str(r["answer"]) for r in row.responses},
                finalized_at=row.finalized_at,
                withdrawal_reason=row.withdrawal_reason,
            )
            for row in rows
        ]
