"""Catalog tables. The definition of a version is one JSONB document: it is read and written whole."""

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


class IssuerRow(Base):
    __tablename__ = "issuers"

    issuer_id: Mapped[UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, unique=True)
    url: Mapped[str | None] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class CredentialVersionRow(Base):
    __tablename__ = "credential_versions"

    credential_id: Mapped[UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[UUID] = mapped_column(sa.ForeignKey("issuers.issuer_id"), index=True)
    name: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
