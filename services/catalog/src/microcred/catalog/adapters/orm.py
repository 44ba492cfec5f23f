"""Catalog tables.

The definition of a version is one JSONB document, read and written whole; the few fields search
filters on (name, competency, subjects, grade bands) are copied into columns beside it, and
``search`` is a generated tsvector over name + competency with a GIN index. A partial unique index
makes "one open version per credential" hold even if two requests race past the row lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from microcred.runtime.messaging_tables import define_messaging_tables

OPEN_STATUS_SQL = "status IN ('draft', 'in_review', 'changes_requested', 'approved')"
SEARCH_SQL = "to_tsvector('english', coalesce(name, '') || ' ' || coalesce(competency, ''))"


class Base(DeclarativeBase):
    pass


messaging = define_messaging_tables(Base.metadata)


class IssuerRow(Base):
    __tablename__ = "issuers"

    issuer_id: Mapped[UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.Text, unique=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    url: Mapped[str | None] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    image_url: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class IssuerStaffRow(Base):
    __tablename__ = "issuer_staff"

    issuer_id: Mapped[UUID] = mapped_column(sa.ForeignKey("issuers.issuer_id"), primary_key=True)
    subject: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    role: Mapped[str] = mapped_column(sa.Text)


class CredentialRow(Base):
    __tablename__ = "credentials"
    __table_args__ = (sa.UniqueConstraint("issuer_id", "key", name="uq_credentials_issuer_key"),)

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    issuer_id: Mapped[UUID] = mapped_column(sa.ForeignKey("issuers.issuer_id"), index=True)
    key: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class CredentialVersionRow(Base):
    __tablename__ = "credential_versions"
    __table_args__ = (
        sa.Index("ix_credential_versions_search", "search", postgresql_using="gin"),
        sa.Index("ix_credential_versions_subjects", "subjects", postgresql_using="gin"),
        sa.Index("ix_credential_versions_grade_bands", "grade_bands", postgresql_using="gin"),
        sa.Index(
            "ix_credential_versions_alignments",
            sa.text("(definition -> 'alignments') jsonb_path_ops"),
            postgresql_using="gin",
        ),
        sa.Index("ix_credential_versions_status", "status", "credential_id", "version"),
        sa.Index(
            "uq_credential_versions_one_open", "credential_id", unique=True, postgresql_where=sa.text(OPEN_STATUS_SQL)
        ),
    )

    credential_id: Mapped[UUID] = mapped_column(sa.ForeignKey("credentials.credential_id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[UUID] = mapped_column(sa.ForeignKey("issuers.issuer_id"), index=True)
    status: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    competency: Mapped[str] = mapped_column(sa.Text)
    subjects: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    grade_bands: Mapped[list[str]] = mapped_column(ARRAY(sa.Text))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    search: Mapped[str | None] = mapped_column(TSVECTOR, sa.Computed(SEARCH_SQL, persisted=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class TransitionRow(Base):
    """Append-only: ``seq`` is the transition's position in its version's history."""

    __tablename__ = "credential_transitions"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["credential_id", "version"], ["credential_versions.credential_id", "credential_versions.version"]
        ),
    )

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    from_status: Mapped[str | None] = mapped_column(sa.Text)
    to_status: Mapped[str] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class StackRow(Base):
    __tablename__ = "stacks"
    __table_args__ = (sa.UniqueConstraint("issuer_id", "key", name="uq_stacks_issuer_key"),)

    stack_id: Mapped[UUID] = mapped_column(primary_key=True)
    issuer_id: Mapped[UUID] = mapped_column(sa.ForeignKey("issuers.issuer_id"), index=True)
    key: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text)
    credential_ids: Mapped[list[UUID]] = mapped_column(ARRAY(sa.Uuid))
    revision: Mapped[int] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )


class PathwayRow(Base):
    __tablename__ = "pathways"
    __table_args__ = (sa.UniqueConstraint("issuer_id", "key", name="uq_pathways_issuer_key"),)

    pathway_id: Mapped[UUID] = mapped_column(primary_key=True)
    issuer_id: Mapped[UUID] = mapped_column(sa.ForeignKey("issuers.issuer_id"), index=True)
    key: Mapped[str] = mapped_column(sa.Text)
    name: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    revision: Mapped[int] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )
