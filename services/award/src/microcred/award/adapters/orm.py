"""Award tables.

``credential_versions`` is this service's projection of catalog.credential-published (published versions
never change, so a row is written once). ``awards.submission_id`` is unique: that constraint, not a
read-then-write check, is what makes one submission yield at most one award.
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
    issuer: Mapped[dict[str, Any]] = mapped_column(JSONB)
    name: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text)
    competency: Mapped[str] = mapped_column(sa.Text)
    rubric: Mapped[dict[str, Any]] = mapped_column(JSONB)
    submission_criteria: Mapped[dict[str, Any]] = mapped_column(JSONB)
    alignments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    image_url: Mapped[str | None] = mapped_column(sa.Text)
    expiry_months: Mapped[int | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class AwardRow(Base):
    __tablename__ = "awards"
    __table_args__ = (sa.Index("ix_awards_pending", "credential_id", "credential_version",
                               postgresql_where=sa.text("status = 'pending'")),)

    award_id: Mapped[UUID] = mapped_column(primary_key=True)
    submission_id: Mapped[UUID] = mapped_column(unique=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text, index=True)
    credential_id: Mapped[UUID] = mapped_column()
    credential_version: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.Text)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    states: Mapped[list[str]] = mapped_column(JSONB)
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    scored_event_id: Mapped[UUID | None] = mapped_column()
    correlation_id: Mapped[UUID | None] = mapped_column()
    issuer_id: Mapped[UUID | None] = mapped_column()
    credential_name: Mapped[str | None] = mapped_column(sa.Text)
    valid_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    credential: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
