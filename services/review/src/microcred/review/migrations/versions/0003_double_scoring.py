"""Double scoring and reliability: a review row per panel seat (primary, second, adjudicator) of an
attempt, the double-scored pairs reliability is computed from, and the reviewer's recalibration flag.

The one-row-per-attempt constraint becomes one *primary* row per attempt; other seats point at the
primary through ``parent_review_id``.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviews", sa.Column("role", sa.Text, nullable=False, server_default="primary"))
    op.add_column("reviews", sa.Column("parent_review_id", sa.Uuid))
    op.drop_constraint("uq_reviews_submission_attempt", "reviews", type_="unique")
    op.create_index(
        "uq_reviews_primary_attempt", "reviews", ["submission_id", "attempt"], unique=True,
        postgresql_where=sa.text("parent_review_id IS NULL"),
    )
    op.create_index("ix_reviews_parent", "reviews", ["parent_review_id"])
    # Calibration asks how many attempts of a version came before.
    op.create_index(
        "ix_reviews_primary_version", "reviews", ["credential_id", "credential_version"],
        postgresql_where=sa.text("parent_review_id IS NULL"),
    )
    op.add_column("reviewers", sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "double_scored_pairs",
        sa.Column("review_id", sa.Uuid, primary_key=True),
        sa.Column("credential_id", sa.Uuid, nullable=False),
        sa.Column("credential_version", sa.Integer, nullable=False),
        sa.Column("primary_reviewer", sa.Text, nullable=False),
        sa.Column("second_reviewer", sa.Text, nullable=False),
        sa.Column("primary_levels", JSONB, nullable=False),
        sa.Column("second_levels", JSONB, nullable=False),
        sa.Column("primary_decision", sa.Text, nullable=False),
        sa.Column("second_decision", sa.Text, nullable=False),
        sa.Column("adjudicator", sa.Text),
        sa.Column("adjudicated_levels", JSONB),
        sa.Column("adjudicated_decision", sa.Text),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_pairs_primary_reviewer", "double_scored_pairs", ["primary_reviewer"])
    op.create_index("ix_pairs_second_reviewer", "double_scored_pairs", ["second_reviewer"])
    op.create_index("ix_pairs_credential", "double_scored_pairs", ["credential_id"])


def downgrade() -> None:
    op.drop_table("double_scored_pairs")
    op.drop_column("reviewers", "flagged")
    # Seats other than the primary cannot be represented under the old constraint.
    op.execute("DELETE FROM reviews WHERE parent_review_id IS NOT NULL")
    op.drop_index("ix_reviews_primary_version", table_name="reviews")
    op.drop_index("ix_reviews_parent", table_name="reviews")
    op.drop_index("uq_reviews_primary_attempt", table_name="reviews")
    op.create_unique_constraint("uq_reviews_submission_attempt", "reviews", ["submission_id", "attempt"])
    op.drop_column("reviews", "parent_review_id")
    op.drop_column("reviews", "role")
