"""Every reviewer of an attempt (calibration has two, and maybe an adjudicator) and the expected
decision date the teacher is shown.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "submission_attempts", sa.Column("reviewer_ids", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column("submission_attempts", sa.Column("expected_decision_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("submission_attempts", "expected_decision_at")
    op.drop_column("submission_attempts", "reviewer_ids")
