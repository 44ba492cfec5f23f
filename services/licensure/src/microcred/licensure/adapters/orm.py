"""Licensure tables.

``ledger_entries`` is append-only; its unique (award_id, license_id, kind) is what guarantees one credit
(and one reversal) per award and license whichever way an award reaches a license (its event, or a
license registered later). ``credit_claims`` holds the one decision per (award, license), with its
reason. ``awards`` is this service's projection of award.awarded, kept for that second way and for the
state feeds; ``revoked_awards`` records award.revoked even when it arrives before the award itself, and
``award_status_changes`` every suspension, reinstatement and revocation, once each (what the state
feeds announce).
``credential_versions`` is the projection of catalog.credential-published that names an entry's
credential; its ``credit_hints`` are the issuer's suggestion, shown to readers and never used for credit.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from microcred.runtime.messaging_tables import define_messaging_tables

AMOUNT = sa.Numeric(12, 4)


class Base(DeclarativeBase):
    pass


messaging = define_messaging_tables(Base.metadata)


class RuleSetRow(Base):
    __tablename__ = "rule_sets"

    rule_set_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(2), index=True)
    effective_from: Mapped[date] = mapped_column(sa.Date)
    unit: Mapped[str] = mapped_column(sa.Text)
    amount_per_credential: Mapped[Decimal] = mapped_column(AMOUNT)
    required_per_cycle: Mapped[Decimal] = mapped_column(AMOUNT)
    source_note: Mapped[str] = mapped_column(sa.Text)
    cap_per_cycle: Mapped[Decimal | None] = mapped_column(AMOUNT)
    accepts: Mapped[str] = mapped_column(sa.Text, server_default="all")
    accepted_issuers: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    accepted_credentials: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    requires_growth_plan_match: Mapped[bool] = mapped_column(server_default=sa.false())
    requires_district_approval: Mapped[bool] = mapped_column(server_default=sa.false())
    on_revocation: Mapped[str] = mapped_column(sa.Text, server_default="reverse")
    on_expiry: Mapped[str] = mapped_column(sa.Text, server_default="keep")
    source_url: Mapped[str | None] = mapped_column(sa.Text)
    example: Mapped[bool] = mapped_column(server_default=sa.true())
    published_by: Mapped[str | None] = mapped_column(sa.Text)


class LicenseRow(Base):
    __tablename__ = "licenses"
    # Per teacher (ADR 0004): a number another teacher registered neither blocks a registration nor shows.
    __table_args__ = (
        sa.UniqueConstraint("teacher_id", "state", "license_number", name="uq_licenses_teacher_state_number"),
    )

    license_id: Mapped[UUID] = mapped_column(primary_key=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text, index=True)
    state: Mapped[str] = mapped_column(sa.String(2))
    license_number: Mapped[str] = mapped_column(sa.Text)
    license_type: Mapped[str] = mapped_column(sa.Text)
    cycle_start: Mapped[date] = mapped_column(sa.Date)
    cycle_end: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    required_amount: Mapped[Decimal | None] = mapped_column(AMOUNT)
    district: Mapped[str | None] = mapped_column(sa.Text)
    growth_plan: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")


class AwardRow(Base):
    __tablename__ = "awards"
    __table_args__ = (
        # The expiry sweep's scan (migration 0006).
        sa.Index("ix_awards_valid_until", "valid_until", postgresql_where=sa.text("valid_until IS NOT NULL")),
    )

    award_id: Mapped[UUID] = mapped_column(primary_key=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text, index=True)
    credential_id: Mapped[UUID] = mapped_column(index=True)  # migration 0008
    credential_version: Mapped[int] = mapped_column()
    credential_name: Mapped[str] = mapped_column(sa.Text)
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    issuer_id: Mapped[UUID | None] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    credential: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    credential_url: Mapped[str | None] = mapped_column(sa.Text)


class RevokedAwardRow(Base):
    __tablename__ = "revoked_awards"

    award_id: Mapped[UUID] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    revoked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class AwardStatusChangeRow(Base):
    """A suspension, reinstatement or revocation heard from award.*; the key makes each change one row."""

    __tablename__ = "award_status_changes"
    __table_args__ = (
        sa.CheckConstraint("status IN ('suspended', 'reinstated', 'revoked')", name="ck_award_status_changes_status"),
    )

    award_id: Mapped[UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    changed_by: Mapped[str | None] = mapped_column(sa.Text)
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class CreditClaimRow(Base):
    __tablename__ = "credit_claims"
    __table_args__ = (
        # The approval queue, in its listing order, holding waiting claims only (migration 0004).
        sa.Index(
            "ix_credit_claims_pending", "earned_on", "award_id",
            postgresql_where=sa.text("status = 'pending_approval'"),
        ),
    )

    award_id: Mapped[UUID] = mapped_column(primary_key=True)
    license_id: Mapped[UUID] = mapped_column(sa.ForeignKey("licenses.license_id"), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    earned_on: Mapped[date] = mapped_column(sa.Date)
    rule_set_id: Mapped[str | None] = mapped_column(sa.Text)
    rule_set_version: Mapped[int | None] = mapped_column()
    amount: Mapped[Decimal | None] = mapped_column(AMOUNT)
    unit: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    # When the expiry sweep announced the award's expiry to this claim's state (migration 0006).
    expiry_announced_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class StateApprovalRow(Base):
    __tablename__ = "state_approvals"

    state: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    approved_by: Mapped[str] = mapped_column(sa.Text)
    approved_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class CredentialVersionRow(Base):
    __tablename__ = "credential_versions"

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    issuer_id: Mapped[UUID] = mapped_column()
    issuer_name: Mapped[str] = mapped_column(sa.Text)
    # [{"unit", "amount" (decimal string, so no float ever touches it), "note"}]
    credit_hints: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    competency: Mapped[str | None] = mapped_column(sa.Text)  # migration 0007
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class LedgerEntryRow(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.UniqueConstraint("award_id", "license_id", "kind", name="uq_ledger_award_license_kind"),
        sa.ForeignKeyConstraint(
            ["rule_set_id", "rule_set_version"], ["rule_sets.rule_set_id", "rule_sets.version"],
            name="fk_ledger_rule_set",
        ),
    )

    entry_id: Mapped[UUID] = mapped_column(primary_key=True)
    license_id: Mapped[UUID] = mapped_column(sa.ForeignKey("licenses.license_id"), index=True)
    award_id: Mapped[UUID | None] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.Text)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    unit: Mapped[str] = mapped_column(sa.Text)
    rule_set_id: Mapped[str] = mapped_column(sa.Text)
    rule_set_version: Mapped[int] = mapped_column()
    earned_on: Mapped[date] = mapped_column(sa.Date)
    posted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    reason: Mapped[str | None] = mapped_column(sa.Text)
    reverses_entry_id: Mapped[UUID | None] = mapped_column()


class RecognitionEntryRow(Base):
    """Append-only (migration 0008); ``seq`` is the ledger's order, ``created_at`` tying within a transaction."""

    __tablename__ = "recognition_entries"
    __table_args__ = (
        sa.Index("ix_recognition_entries_teacher", "teacher_id", "program_id", "seq"),
        # A program's holders and the incentive report read one program's entries in a state (migration 0011).
        sa.Index("ix_recognition_entries_program", "program_id", "state", "year", "seq"),
    )

    entry_id: Mapped[UUID] = mapped_column(primary_key=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text)
    program_id: Mapped[str] = mapped_column(sa.Text)
    program_version: Mapped[int] = mapped_column()
    state: Mapped[str] = mapped_column(sa.String(2))
    district: Mapped[str | None] = mapped_column(sa.Text)
    key: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.Text)
    year: Mapped[int] = mapped_column()
    award_ids: Mapped[list[str]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(sa.Text)
    amount: Mapped[Decimal | None] = mapped_column(AMOUNT)
    pending: Mapped[bool] = mapped_column(server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    seq: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity())


class MembershipRow(Base):
    """A stack's or pathway's current credentials, at the highest revision heard (migration 0008)."""

    __tablename__ = "catalog_memberships"

    kind: Mapped[str] = mapped_column(sa.Text, primary_key=True)  # "stack" | "pathway"
    collection_id: Mapped[UUID] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column()
    active: Mapped[bool] = mapped_column()
    credential_ids: Mapped[list[str]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
