"""Submission schema: catalog projections (versions, retirements, pathways), earned credentials,
submissions, attempts, evidence, outbox, inbox.

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
        "published_credentials",
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("submission_criteria", JSONB, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "retired_credential_versions",
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pathways",
        sa.Column("pathway_id", sa.Uuid, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("steps", JSONB, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pathway_prerequisites",
        sa.Column(
            "pathway_id", sa.Uuid, sa.ForeignKey("pathways.pathway_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("credential_id", sa.Uuid, primary_key=True, index=True),
        sa.Column("prerequisite_id", sa.Uuid, primary_key=True),
    )
    op.create_table(
        "earned_credentials",
        sa.Column("teacher_id", sa.Text, primary_key=True),
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("award_id", sa.Uuid, nullable=False),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.Uuid, primary_key=True),
        sa.Column("teacher_id", sa.Text, nullable=False, index=True),
        sa.Column("credential_id", sa.Uuid, nullable=False),
        sa.Column("credential_version", sa.Integer, nullable=False),
        sa.Column("credential_name", sa.Text, nullable=False),
        sa.Column("states", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("award_id", sa.Uuid),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "submission_attempts",
        sa.Column(
            "submission_id",
            sa.Uuid,
            sa.ForeignKey("submissions.submission_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer_id", sa.Text),
        sa.Column("feedback", JSONB, nullable=False),
        sa.Column("feedback_received_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "evidence",
        sa.Column("evidence_id", sa.Uuid, primary_key=True),
        sa.Column(
            "submission_id",
            sa.Uuid,
            sa.ForeignKey("submissions.submission_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("requirement_key", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("object_key", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("uploaded_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    create_messaging_tables(op.get_bind())


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_table("evidence")
    op.drop_table("submission_attempts")
    op.drop_table("submissions")
    op.drop_table("earned_credentials")
    op.drop_table("pathway_prerequisites")
    op.drop_table("pathways")
    op.drop_table("retired_credential_versions")
    op.drop_table("published_credentials")
