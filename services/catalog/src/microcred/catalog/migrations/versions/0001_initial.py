"""Catalog schema: issuers and staff, credentials with versions and their transition history, stacks,
pathways, outbox and inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from microcred.runtime.messaging_tables import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPEN_STATUS_SQL = "status IN ('draft', 'in_review', 'changes_requested', 'approved')"
SEARCH_SQL = "to_tsvector('english', coalesce(name, '') || ' ' || coalesce(competency, ''))"


def _timestamp(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=None if nullable else sa.func.now())


def upgrade() -> None:
    op.create_table(
        "issuers",
        sa.Column("issuer_id", sa.Uuid, primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("image_url", sa.Text),
        _timestamp("created_at"),
    )
    op.create_table(
        "issuer_staff",
        sa.Column("issuer_id", sa.Uuid, sa.ForeignKey("issuers.issuer_id"), primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.CheckConstraint("role IN ('admin', 'editor')", name="ck_issuer_staff_role"),
    )
    op.create_table(
        "credentials",
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("issuer_id", sa.Uuid, sa.ForeignKey("issuers.issuer_id"), nullable=False, index=True),
        sa.Column("key", sa.Text, nullable=False),
        _timestamp("created_at"),
        sa.UniqueConstraint("issuer_id", "key", name="uq_credentials_issuer_key"),
    )
    op.create_table(
        "credential_versions",
        sa.Column("credential_id", sa.Uuid, sa.ForeignKey("credentials.credential_id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("issuer_id", sa.Uuid, sa.ForeignKey("issuers.issuer_id"), nullable=False, index=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("competency", sa.Text, nullable=False),
        sa.Column("subjects", ARRAY(sa.Text), nullable=False),
        sa.Column("grade_bands", ARRAY(sa.Text), nullable=False),
        sa.Column("definition", JSONB, nullable=False),
        sa.Column("search", TSVECTOR, sa.Computed(SEARCH_SQL, persisted=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _timestamp("published_at", nullable=True),
        _timestamp("retired_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'in_review', 'changes_requested', 'approved', 'published', 'retired')",
            name="ck_credential_versions_status",
        ),
    )
    op.create_index("ix_credential_versions_search", "credential_versions", ["search"], postgresql_using="gin")
    op.create_index("ix_credential_versions_subjects", "credential_versions", ["subjects"], postgresql_using="gin")
    op.create_index(
        "ix_credential_versions_grade_bands", "credential_versions", ["grade_bands"], postgresql_using="gin"
    )
    op.create_index(
        "ix_credential_versions_alignments", "credential_versions",
        [sa.text("(definition -> 'alignments') jsonb_path_ops")], postgresql_using="gin",
    )
    op.create_index(
        "ix_credential_versions_status", "credential_versions", ["status", "credential_id", "version"]
    )
    op.create_index(
        "uq_credential_versions_one_open", "credential_versions", ["credential_id"], unique=True,
        postgresql_where=sa.text(OPEN_STATUS_SQL),
    )
    op.create_table(
        "credential_transitions",
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id", "version"], ["credential_versions.credential_id", "credential_versions.version"]
        ),
    )
    for table, id_column in (("stacks", "stack_id"), ("pathways", "pathway_id")):
        op.create_table(
            table,
            sa.Column(id_column, sa.Uuid, primary_key=True),
            sa.Column("issuer_id", sa.Uuid, sa.ForeignKey("issuers.issuer_id"), nullable=False, index=True),
            sa.Column("key", sa.Text, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("description", sa.Text, nullable=False),
            sa.Column("credential_ids", ARRAY(sa.Uuid), nullable=False) if table == "stacks"
            else sa.Column("steps", JSONB, nullable=False),
            sa.Column("revision", sa.Integer, nullable=False),
            sa.Column("active", sa.Boolean, nullable=False),
            _timestamp("updated_at"),
            sa.UniqueConstraint("issuer_id", "key", name=f"uq_{table}_issuer_key"),
        )
    create_messaging_tables(op.get_bind())


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    for table in ("pathways", "stacks", "credential_transitions", "credential_versions", "credentials",
                  "issuer_staff", "issuers"):
        op.drop_table(table)
