"""Reviewer registry (affiliations, seniority, availability, dated certifications, overdue count) and
routing state on reviews (teacher affiliations for conflicts, exclusions, reassignment).

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
    op.add_column("reviewers", sa.Column("district", sa.Text))
    op.add_column("reviewers", sa.Column("school", sa.Text))
    op.add_column("reviewers", sa.Column("senior", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("reviewers", sa.Column("availability", sa.Text, nullable=False, server_default="available"))
    op.add_column(
        "reviewers", sa.Column("certifications", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column("reviewers", sa.Column("overdue_count", sa.Integer, nullable=False, server_default="0"))
    op.add_column("reviews", sa.Column("teacher_district", sa.Text))
    op.add_column("reviews", sa.Column("teacher_school", sa.Text))
    op.add_column(
        "reviews", sa.Column("excluded_reviewers", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column("reviews", sa.Column("reassigned_from", sa.Text))
    op.add_column("reviews", sa.Column("reassignment_reason", sa.Text))
    # The overdue sweep looks for assigned reviews past their due time.
    op.create_index("ix_reviews_status_due", "reviews", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_reviews_status_due", table_name="reviews")
    for column in ("reassignment_reason", "reassigned_from", "excluded_reviewers", "teacher_school", "teacher_district"):
        op.drop_column("reviews", column)
    for column in ("overdue_count", "certifications", "availability", "senior", "school", "district"):
        op.drop_column("reviewers", column)
