"""Multipart uploads and verified media facts on evidence; written responses, withdrawal and finality
on submissions; a credential's attempt limit.

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
    op.add_column("published_credentials", sa.Column("max_attempts", sa.Integer))
    op.add_column("submissions", sa.Column("responses", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")))
    op.add_column("submissions", sa.Column("finalized_at", sa.DateTime(timezone=True)))
    op.add_column("submissions", sa.Column("withdrawal_reason", sa.Text))
    op.create_index("ix_submissions_finalized_at", "submissions", ["finalized_at"])
    op.add_column("evidence", sa.Column("upload_mode", sa.Text, nullable=False, server_default="single"))
    op.add_column("evidence", sa.Column("upload_id", sa.Text))
    op.add_column("evidence", sa.Column("part_size", sa.BigInteger))
    op.add_column("evidence", sa.Column("part_count", sa.Integer))
    op.add_column("evidence", sa.Column("sniffed_content_type", sa.Text))
    op.add_column("evidence", sa.Column("duration_seconds", sa.Float))
    op.add_column("evidence", sa.Column("media", JSONB))
    op.add_column("evidence", sa.Column("rejection", JSONB))
    op.add_column("evidence", sa.Column("submitted_in", sa.Integer))
    op.add_column("evidence", sa.Column("removed_at", sa.DateTime(timezone=True)))
    # The orphan sweep asks for pending uploads older than a cutoff.
    op.create_index(
        "ix_evidence_pending_created_at", "evidence", ["created_at"], postgresql_where=sa.text("status = 'pending'")
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_pending_created_at", table_name="evidence")
    for column in ("removed_at", "submitted_in", "rejection", "media", "duration_seconds", "sniffed_content_type",
                   "part_count", "part_size", "upload_id", "upload_mode"):
        op.drop_column("evidence", column)
    op.drop_index("ix_submissions_finalized_at", table_name="submissions")
    for column in ("withdrawal_reason", "finalized_at", "responses"):
        op.drop_column("submissions", column)
    op.drop_column("published_credentials", "max_attempts")
