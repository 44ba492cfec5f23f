"""The teacher's note to the reviewer on each review row of the attempt it came with (``reviews.teacher_note``).

SubmissionSubmitted carries it (``note_to_reviewer``, optional); rows from before, and attempts sent without a
note, keep NULL. A metadata-only ``ADD COLUMN``: a large table is not rewritten.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviews", sa.Column("teacher_note", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("reviews", "teacher_note")
