"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.events import CriterionFeedback, SubmissionCriteria
from microcred.submission.adapters.orm import AttemptRow, EvidenceRow, PublishedCredentialRow, SubmissionRow
from microcred.submission.domain.model import (
    Attempt,
    Evidence,
    EvidenceStatus,
    PublishedCredential,
    Submission,
    SubmissionStatus,
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
            )
            .on_conflict_do_nothing()
        )

    async def get(self, credential_id: UUID, version: int | None = None) -> PublishedCredential | None:
        """The given version, or the latest published one."""
        query = sa.select(PublishedCredentialRow).where(PublishedCredentialRow.credential_id == credential_id)
        if version is not None:
            query = query.where(PublishedCredentialRow.version == version)
        row = await self.session.scalar(query.order_by(PublishedCredentialRow.version.desc()).limit(1))
        if row is None:
            return None
        return PublishedCredential(
            credential_id=row.credential_id,
            version=row.version,
            name=row.name,
            submission_criteria=SubmissionCriteria.model_validate(row.submission_criteria),
        )


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
        row.status = submission.status.value
        row.attempt = submission.attempt
        row.award_id = submission.award_id
        row.created_at = submission.created_at

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
                attempt=row.attempt,
                attempts=attempts[row.submission_id],
                evidence=evidence[row.submission_id],
                award_id=row.award_id,
            )
            for row in rows
        ]
