"""The attempt's submit time on each review row.

The decision promise (14 business days) and the submit-to-decision time run from the teacher's submit,
which only the consumed SubmissionSubmitted knows (its ``occurred_at``); ``created_at`` is when review
opened the attempt, later by the event's consumer lag. Nullable with no backfill: rows from before fall
back to ``created_at``, and a metadata-only ``ADD COLUMN`` does not rewrite a large table.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviews", sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("reviews", "submitted_at")
