"""Award schema: credential version projection, awards, outbox and inbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from microcred.runtime.messaging_tables import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_versions",
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("issuer", JSONB, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("competency", sa.Text, nullable=False),
        sa.Column("rubric", JSONB, nullable=False),
        sa.Column("submission_criteria", JSONB, nullable=False),
        sa.Column("alignments", JSONB, nullable=False),
        sa.Column("image_url", sa.Text),
        sa.Column("expiry_months", sa.Integer),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "awards",
        sa.Column("award_id", sa.Uuid, primary_key=True),
        sa.Column("submission_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("teacher_id", sa.Text, nullable=False, index=True),
        sa.Column("credential_id", sa.Uuid, nullable=False),
        sa.Column("credential_version", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("results", JSONB, nullable=False),
        sa.Column("states", JSONB, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scored_event_id", sa.Uuid),
        sa.Column("correlation_id", sa.Uuid),
        sa.Column("issuer_id", sa.Uuid),
        sa.Column("credential_name", sa.Text),
        sa.Column("valid_until", sa.DateTime(timezone=True)),
        sa.Column("credential", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('pending', 'issued')", name="ck_awards_status"),
        sa.CheckConstraint("status = 'pending' OR credential IS NOT NULL", name="ck_awards_issued_has_credential"),
    )
    op.create_index(
        "ix_awards_pending", "awards", ["credential_id", "credential_version"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    create_messaging_tables(op.get_bind())


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("awards")
    op.drop_table("credential_versions")
