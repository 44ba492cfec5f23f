"""Review tables.

``credential_versions`` is this service's projection of catalog.credential-published: only what a
reviewer needs (name and rubric). ``reviews`` holds one row per panel seat: the primary row is the
attempt's review (unique per (submission_id, attempt), which makes a re-announced attempt a no-op);
second and adjudicator seats point at it through ``parent_review_id``. Open load per reviewer is
``reviewers.open_reviews``, a counter a trigger on ``reviews`` keeps (migration 0009): the database moves it with
every write of a seat, so it cannot drift from the assignments themselves, and routing reads it instead of
counting the open assignments on every pass.

``withdrawn_attempts`` remembers every withdrawal, even of an attempt review has not heard of yet:
withdrawals and submissions travel on different topics, so a withdrawal can overtake the
submission it voids, and the late submission must then open nothing.
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


class CredentialVersionRow(Base):
    __tablename__ = "credential_versions"

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    rubric: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # NULL: the version did not set one (or was recorded before the field existed); use the setting.
    calibration_size: Mapped[int | None] = mapped_column(sa.Integer)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class ReviewerRow(Base):
    __tablename__ = "reviewers"

    reviewer_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    # NULL means certified for every credential; otherwise a JSON list of credential ids.
    credential_ids: Mapped[list[str] | None] = mapped_column(JSONB)
    max_open: Mapped[int] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean)
    district: Mapped[str | None] = mapped_column(sa.Text)
    school: Mapped[str | None] = mapped_column(sa.Text)
    senior: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    availability: Mapped[str] = mapped_column(sa.Text, server_default="available")
    # Dated certification records ({credential_id, certified_at, status}), revoked ones included.
    certifications: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    # Assignments taken back because they went overdue; only ever incremented by the sweep.
    overdue_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    # Below the reliability thresholds when its last double-scored pair completed.
    flagged: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    # Seats this reviewer holds open (status assigned), moved only by the trigger of migration 0009: never
    # written from Python, and read as a column (not from a loaded row, which the trigger does not refresh).
    open_reviews: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class ReviewRow(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        sa.Index(
            "uq_reviews_primary_attempt", "submission_id", "attempt", unique=True,
            postgresql_where=sa.text("parent_review_id IS NULL"),
        ),
        sa.Index("ix_reviews_parent", "parent_review_id"),
        sa.Index(
            "ix_reviews_primary_version", "credential_id", "credential_version",
            postgresql_where=sa.text("parent_review_id IS NULL"),
        ),
        sa.Index("ix_reviews_status_created", "status", "created_at"),
        # A reviewer's open seats in due or assignment order, for the paged list and its counts (migration 0008).
        sa.Index("ix_reviews_reviewer_open", "reviewer_id", "status", "due_at", "review_id",
                 postgresql_include=["credential_id", "role"]),
        sa.Index("ix_reviews_reviewer_assigned", "reviewer_id", "status", "assigned_at", "review_id",
                 postgresql_include=["credential_id", "role"]),
        sa.Index("ix_reviews_status_due", "status", "due_at"),
        # Every seat of an attempt, and every row of a panel (migration 0005): routing looks both up
        # under its lock on each submitted attempt.
        sa.Index("ix_reviews_attempt", "submission_id", "attempt"),
        sa.Index("ix_reviews_panel", sa.text("coalesce(parent_review_id, review_id)")),
    )

    review_id: Mapped[UUID] = mapped_column(primary_key=True)
    submission_id: Mapped[UUID] = mapped_column()
    attempt: Mapped[int] = mapped_column(sa.Integer)
    credential_id: Mapped[UUID] = mapped_column()
    credential_version: Mapped[int] = mapped_column(sa.Integer)
    teacher_id: Mapped[str] = mapped_column(sa.Text)
    states: Mapped[list[str]] = mapped_column(JSONB)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(sa.Text)
    reviewer_id: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    # The attempt's submit time (migration 0006); NULL on rows recorded before it.
    submitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    scored_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decision: Mapped[str | None] = mapped_column(sa.Text)
    total_points: Mapped[int | None] = mapped_column(sa.Integer)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    revision_feedback: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    withdrawn_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.Text)
    teacher_district: Mapped[str | None] = mapped_column(sa.Text)
    teacher_school: Mapped[str | None] = mapped_column(sa.Text)
    teacher_note: Mapped[str | None] = mapped_column(sa.Text)
    excluded_reviewers: Mapped[list[str]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    reassigned_from: Mapped[str | None] = mapped_column(sa.Text)
    reassignment_reason: Mapped[str | None] = mapped_column(sa.Text)
    role: Mapped[str] = mapped_column(sa.Text, server_default="primary")
    parent_review_id: Mapped[UUID | None] = mapped_column()


class ScoredPairRow(Base):
    """One double-scored attempt for reliability statistics: both reviewers' level indices, in rubric
    order, and the adjudicator's when there was one. Written when the second reviewer scores."""

    __tablename__ = "double_scored_pairs"
    __table_args__ = (
        sa.Index("ix_pairs_primary_reviewer", "primary_reviewer"),
        sa.Index("ix_pairs_second_reviewer", "second_reviewer"),
        sa.Index("ix_pairs_credential", "credential_id"),
    )

    review_id: Mapped[UUID] = mapped_column(primary_key=True)
    credential_id: Mapped[UUID] = mapped_column()
    credential_version: Mapped[int] = mapped_column(sa.Integer)
    primary_reviewer: Mapped[str] = mapped_column(sa.Text)
    second_reviewer: Mapped[str] = mapped_column(sa.Text)
    primary_levels: Mapped[list[int]] = mapped_column(JSONB)
    second_levels: Mapped[list[int]] = mapped_column(JSONB)
    primary_decision: Mapped[str] = mapped_column(sa.Text)
    second_decision: Mapped[str] = mapped_column(sa.Text)
    adjudicator: Mapped[str | None] = mapped_column(sa.Text)
    adjudicated_levels: Mapped[list[int] | None] = mapped_column(JSONB)
    adjudicated_decision: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class WithdrawnAttemptRow(Base):
    __tablename__ = "withdrawn_attempts"

    submission_id: Mapped[UUID] = mapped_column(primary_key=True)
    attempt: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    withdrawn_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
