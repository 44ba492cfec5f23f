"""Licensure tables.

``ledger_entries`` is append-only; its unique (award_id, license_id, kind) is what guarantees one credit
per award and license whichever way an award reaches a license (its event, or a license registered
later). ``awards`` is this service's projection of award.awarded, kept for exactly that second way.
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


class LicenseRow(Base):
    __tablename__ = "licenses"
    __table_args__ = (sa.UniqueConstraint("state", "license_number", name="uq_licenses_state_number"),)

    license_id: Mapped[UUID] = mapped_column(primary_key=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text, index=True)
    state: Mapped[str] = mapped_column(sa.String(2))
    license_number: Mapped[str] = mapped_column(sa.Text)
    license_type: Mapped[str] = mapped_column(sa.Text)
    cycle_start: Mapped[date] = mapped_column(sa.Date)
    cycle_end: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class AwardRow(Base):
    __tablename__ = "awards"

    award_id: Mapped[UUID] = mapped_column(primary_key=True)
    teacher_id: Mapped[str] = mapped_column(sa.Text, index=True)
    credential_id: Mapped[UUID] = mapped_column()
    credential_version: Mapped[int] = mapped_column()
    credential_name: Mapped[str] = mapped_column(sa.Text)
    issued_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class CredentialVersionRow(Base):
    __tablename__ = "credential_versions"

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    issuer_id: Mapped[UUID] = mapped_column()
    issuer_name: Mapped[str] = mapped_column(sa.Text)
    # [{"unit", "amount" (decimal string, so no float ever touches it), "note"}]
    credit_hints: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
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
    award_id: Mapped[UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.Text)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    unit: Mapped[str] = mapped_column(sa.Text)
    rule_set_id: Mapped[str] = mapped_column(sa.Text)
    rule_set_version: Mapped[int] = mapped_column()
    earned_on: Mapped[date] = mapped_column(sa.Date)
    posted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
