"""The recognition review queue: when each teacher's recognition standing may next change by time alone.

An award's valid_until passing, a program's validity window ageing an award out, a capped salary step
coming due in the next year, a program version coming into force or ending: no event says so, so each
re-evaluation records the earliest such instant here, and licensure re-evaluates the teacher then. A
catalog change enqueues the holders of its credentials due now, to be drained in bounded batches.

Every teacher with an award is enqueued due now, once: their standing was evaluated before this queue
existed, so nobody knows yet when it may next change by time.

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recognition_reviews",
        sa.Column("teacher_id", sa.Text, primary_key=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_recognition_reviews_due_at", "recognition_reviews", ["due_at"])
    op.execute("INSERT INTO recognition_reviews (teacher_id, due_at) SELECT DISTINCT teacher_id, now() FROM awards")


def downgrade() -> None:
    op.drop_index("ix_recognition_reviews_due_at", table_name="recognition_reviews")
    op.drop_table("recognition_reviews")
