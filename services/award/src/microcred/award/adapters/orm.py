"""Award tables.

``credential_versions`` is this service's projection of catalog.credential-published (published versions
never change, so a row is written once); ``submitted_attempts`` of submission.submitted and
``collections`` of catalog.stack-changed / pathway-changed. Constraints, not read-then-write checks,
keep the invariants: ``awards.submission_id`` is unique (one award per submission), a partial unique
index allows one collection award per teacher and collection, and ``status_allocations`` hands each
award its own position in its issuer's status lists.

``signing_keys.encrypted_private_key`` is AES-GCM under the key-encryption key from settings (a
secret store in production); the public half is what the issuer's controller document publishes.
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
    __table_args__ = (
        sa.Index("ix_awards_pending", "credential_id", "credential_version",
                 postgresql_where=sa.text("status = 'pending'")),
        sa.Index("ix_awards_pending_submission", "submission_id", postgresql_where=sa.text("status = 'pending'")),
        sa.Index("ux_awards_collection_once", "teacher_id", "kind", "credential_id", unique=True,
                 postgresql_where=sa.text("kind <> 'micro_credential'")),
    )

    award_id: Mapped[UUID] = mapped_column(primary_key=True)
    submission_id: Mapped[UUID | None] = mapped_column(unique=True)
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
    kind: Mapped[str] = mapped_column(sa.Text, server_default="micro_credential")
    attempt: Mapped[int | None] = mapped_column()
    component_award_ids: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    standing: Mapped[str] = mapped_column(sa.Text, server_default="active")
    standing_reason: Mapped[str | None] = mapped_column(sa.Text)
    standing_changed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    standing_changed_by: Mapped[str | None] = mapped_column(sa.Text)
    status_list: Mapped[int | None] = mapped_column()
    status_index: Mapped[int | None] = mapped_column()


class SubmittedAttemptRow(Base):
    __tablename__ = "submitted_attempts"

    submission_id: Mapped[UUID] = mapped_column(primary_key=True)
    attempt: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text)
    teacher_email: Mapped[str | None] = mapped_column(sa.Text)
    teacher_did: Mapped[str | None] = mapped_column(sa.Text)
    evidence: Mapped[list[Any]] = mapped_column(JSONB)
    responses: Mapped[list[Any]] = mapped_column(JSONB)


class CollectionRow(Base):
    __tablename__ = "collections"

    kind: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    collection_id: Mapped[UUID] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column()
    issuer_id: Mapped[UUID] = mapped_column()
    name: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text)
    credential_ids: Mapped[list[str]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column()


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"
    __table_args__ = (sa.Index("ux_signing_keys_active", "scope", unique=True,
                               postgresql_where=sa.text("retired_at IS NULL")),)

    key_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    scope: Mapped[str] = mapped_column(sa.Text, index=True)
    public_key_multibase: Mapped[str] = mapped_column(sa.Text)
    encrypted_private_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class StatusListRow(Base):
    __tablename__ = "status_lists"

    issuer_id: Mapped[UUID] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    list_no: Mapped[int] = mapped_column(primary_key=True)
    bits: Mapped[bytes] = mapped_column(sa.LargeBinary)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class StatusAllocationRow(Base):
    __tablename__ = "status_allocations"

    issuer_id: Mapped[UUID] = mapped_column(primary_key=True)
    list_no: Mapped[int] = mapped_column(primary_key=True)
    status_index: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[UUID] = mapped_column(unique=True)
