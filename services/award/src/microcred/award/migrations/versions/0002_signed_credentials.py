"""Signed credentials: signing keys, status lists, submitted attempts, collections, award standing.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("awards", "submission_id", nullable=True)
    op.add_column("awards", sa.Column("kind", sa.Text, nullable=False, server_default="micro_credential"))
    op.add_column("awards", sa.Column("attempt", sa.Integer))
    op.add_column("awards", sa.Column("component_award_ids", JSONB, nullable=False, server_default="[]"))
    op.add_column("awards", sa.Column("standing", sa.Text, nullable=False, server_default="active"))
    op.add_column("awards", sa.Column("standing_reason", sa.Text))
    op.add_column("awards", sa.Column("standing_changed_at", sa.DateTime(timezone=True)))
    op.add_column("awards", sa.Column("standing_changed_by", sa.Text))
    op.add_column("awards", sa.Column("status_list", sa.Integer))
    op.add_column("awards", sa.Column("status_index", sa.Integer))
    op.create_index("ix_awards_pending_submission", "awards", ["submission_id"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ux_awards_collection_once", "awards", ["teacher_id", "kind", "credential_id"], unique=True,
                    postgresql_where=sa.text("kind <> 'micro_credential'"))
    op.create_table(
        "submitted_attempts",
        sa.Column("submission_id", sa.Uuid, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("teacher_id", sa.Text, nullable=False),
        sa.Column("teacher_email", sa.Text),
        sa.Column("teacher_did", sa.Text),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("responses", JSONB, nullable=False),
    )
    op.create_table(
        "collections",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("collection_id", sa.Uuid, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("issuer_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("credential_ids", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("scope", sa.Text, nullable=False, index=True),
        sa.Column("public_key_multibase", sa.Text, nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ux_signing_keys_active", "signing_keys", ["scope"], unique=True,
                    postgresql_where=sa.text("retired_at IS NULL"))
    op.create_table(
        "status_lists",
        sa.Column("issuer_id", sa.Uuid, primary_key=True),
        sa.Column("purpose", sa.Text, primary_key=True),
        sa.Column("list_no", sa.Integer, primary_key=True),
        sa.Column("bits", sa.LargeBinary, nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "status_allocations",
        sa.Column("issuer_id", sa.Uuid, primary_key=True),
        sa.Column("list_no", sa.Integer, primary_key=True),
        sa.Column("status_index", sa.Integer, primary_key=True),
        sa.Column("award_id", sa.Uuid, nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("status_allocations")
    op.drop_table("status_lists")
    op.drop_index("ux_signing_keys_active", table_name="signing_keys")
    op.drop_table("signing_keys")
    op.drop_table("collections")
    op.drop_table("submitted_attempts")
    op.drop_index("ux_awards_collection_once", table_name="awards")
    op.drop_index("ix_awards_pending_submission", table_name="awards")
    for column in ("status_index", "status_list", "standing_changed_by", "standing_changed_at", "standing_reason",
                   "standing", "component_award_ids", "attempt", "kind"):
        op.drop_column("awards", column)
    op.alter_column("awards", "submission_id", nullable=False)
