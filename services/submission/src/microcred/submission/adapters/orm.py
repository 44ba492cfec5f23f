"""Submission tables.

A submission is one aggregate spread over three tables (the submission, its attempts, its evidence);
the repository loads and saves it whole, with the submission row locked, so concurrent requests and
consumers change it one at a time. ``published_credentials`` is this service's projection of
catalog.credential-published: one row per published version, never updated (published versions are
immutable), and the latest one is the highest version. The teacher use cases keep a version's content per
process on the strength of that (repository.CredentialVersions): a change that updated these rows in
place would have to drop that cache.

``retired_credential_versions`` is kept apart from the published rows because catalog.credential-retired
travels on its own topic and may arrive before the version's publication; a version is open for new
submissions when it is published and has no retirement row.

``pathways`` holds the highest revision seen of each pathway (a removed one stays, inactive, so a late
older revision cannot revive it); ``pathway_prerequisites`` is derived from it in the same
transaction, one row per (pathway, credential, prerequisite) of an active pathway, so the
prerequisites of a credential are one indexed lookup. ``earned_credentials`` records award.awarded.

Evidence rows are never deleted: deleting, rejecting, abandoning or purging an item removes its bytes
from the object store and stamps ``removed_at``; the row stays as the audit trail. ``object_key`` is
where uploads go, ``verified_key`` the sealed copy that was verified (see domain/model.py). The sweeps
find their work through partial indexes (pending uploads by age; items verified in place, which the
sweep seals; final submissions by age) and the unique index on ``object_key``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from microcred.runtime.messaging_tables import define_messaging_tables


class Base(DeclarativeBase):
    pass


messaging = define_messaging_tables(Base.metadata)


class PublishedCredentialRow(Base):
    __tablename__ = "published_credentials"

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    submission_criteria: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    max_attempts: Mapped[int | None] = mapped_column()


class RetiredCredentialVersionRow(Base):
    __tablename__ = "retired_credential_versions"

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    retired_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class PathwayRow(Base):
    __tablename__ = "pathways"

    pathway_id: Mapped[UUID] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column()
    active: Mapped[bool] = mapped_column()
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    changed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class PathwayPrerequisiteRow(Base):
    __tablename__ = "pathway_prerequisites"

    pathway_id: Mapped[UUID] = mapped_column(
        sa.ForeignKey("pathways.pathway_id", ondelete="CASCADE"), primary_key=True
    )
    credential_id: Mapped[UUID] = mapped_column(primary_key=True, index=True)
    prerequisite_id: Mapped[UUID] = mapped_column(primary_key=True)


class EarnedCredentialRow(Base):
    __tablename__ = "earned_credentials"

    teacher_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    award_id: Mapped[UUID] = mapped_column()
    earned_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class SubmissionRow(Base):
    __tablename__ = "submissions"

    submission_id: Mapped[UUID] = mapped_column(primary_key=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text, index=True)
    credential_id: Mapped[UUID] = mapped_column()
    credential_version: Mapped[int] = mapped_column()
    credential_name: Mapped[str] = mapped_column(sa.Text)
    states: Mapped[list[str]] = mapped_column(JSONB)
    teacher_district: Mapped[str | None] = mapped_column(sa.Text)
    teacher_school: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text)
    attempt: Mapped[int] = mapped_column()
    award_id: Mapped[UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # [{"requirement_key", "prompt_index", "answer"}]
    responses: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    finalized_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class AttemptRow(Base):
    __tablename__ = "submission_attempts"

    submission_id: Mapped[UUID] = mapped_column(
        sa.ForeignKey("submissions.submission_id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True)
    submitted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    reviewer_id: Mapped[str | None] = mapped_column(sa.Text)
    feedback: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    feedback_received_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Seats as [{"role", "reviewer_id"}]: who was assigned and who gave a seat back (domain.model.Attempt).
    assigned_seats: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    released_seats: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    expected_decision_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    note_to_reviewer: Mapped[str | None] = mapped_column(sa.Text)


class EvidenceRow(Base):
    __tablename__ = "evidence"
    __table_args__ = (
        sa.Index("ix_evidence_pending_created_at", "created_at", postgresql_where=sa.text("status = 'pending'")),
        sa.Index(
            "ix_evidence_verified_in_place", "created_at",
            postgresql_where=sa.text("uploaded_at IS NOT NULL AND verified_key IS NULL AND removed_at IS NULL"),
        ),
    )

    evidence_id: Mapped[UUID] = mapped_column(primary_key=True)
    submission_id: Mapped[UUID] = mapped_column(
        sa.ForeignKey("submissions.submission_id", ondelete="CASCADE"), index=True
    )
    requirement_key: Mapped[str] = mapped_column(sa.Text)
    filename: Mapped[str] = mapped_column(sa.Text)
    content_type: Mapped[str] = mapped_column(sa.Text)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.Text)
    object_key: Mapped[str] = mapped_column(sa.Text, unique=True)
    status: Mapped[str] = mapped_column(sa.Text)
    etag: Mapped[str | None] = mapped_column(sa.Text)
    uploaded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    upload_mode: Mapped[str] = mapped_column(sa.Text, server_default="single")
    upload_id: Mapped[str | None] = mapped_column(sa.Text)
    part_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    part_count: Mapped[int | None] = mapped_column()
    sniffed_content_type: Mapped[str | None] = mapped_column(sa.Text)
    duration_seconds: Mapped[float | None] = mapped_column(sa.Float)
    media: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    rejection: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    submitted_in: Mapped[int | None] = mapped_column()
    removed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    verified_key: Mapped[str | None] = mapped_column(sa.Text)
    captions_for: Mapped[UUID | None] = mapped_column()
