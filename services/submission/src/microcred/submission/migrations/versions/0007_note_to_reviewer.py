"""The teacher's note to the reviewer, stored with the attempt it came with (``submission_attempts.note_to_reviewer``).

Nullable with no default: attempts submitted before it have no note, and adding the column rewrites nothing.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submission_attempts", sa.Column("note_to_reviewer", sa.Text))


def downgrade() -> None:
    op.drop_column("submission_attempts", "note_to_reviewer")
