"""Review schema: credential projection, reviewers, reviews, withdrawn attempts, outbox and inbox.

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
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("rubric", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "reviewers",
        sa.Column("reviewer_id", sa.Text, primary_key=True),
        sa.Column("credential_ids", JSONB),
        sa.Column("max_open", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "reviews",
        sa.Column("review_id", sa.Uuid, primary_key=True),
        sa.Column("submission_id", sa.Uuid, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("credential_id", sa.Uuid, nullable=False),
        sa.Column("credential_version", sa.Integer, nullable=False),
        sa.Column("teacher_id", sa.Text, nullable=False),
        sa.Column("states", JSONB, nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reviewer_id", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True)),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("scored_at", sa.DateTime(timezone=True)),
        sa.Column("decision", sa.Text),
        sa.Column("total_points", sa.Integer),
        sa.Column("results", JSONB),
        sa.Column("revision_feedback", JSONB),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawal_reason", sa.Text),
        sa.UniqueConstraint("submission_id", "attempt", name="uq_reviews_submission_attempt"),
    )
    op.create_index("ix_reviews_status_created", "reviews", ["status", "created_at"])
    op.create_index("ix_reviews_reviewer_status", "reviews", ["reviewer_id", "status"])
    op.create_table(
        "withdrawn_attempts",
        sa.Column("submission_id", sa.Uuid, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("reason", sa.Text),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_messaging_tables(op.get_bind())


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("withdrawn_attempts")
    op.drop_table("reviews")
    op.drop_table("reviewers")
    op.drop_table("credential_versions")
