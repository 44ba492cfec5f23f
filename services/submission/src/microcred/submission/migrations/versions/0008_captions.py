"""Captions: ``evidence.captions_for``, the video item a WebVTT captions item belongs to (issue 20, point 8).

NULL for every item before this revision and for every item that is not captions. No foreign key: the
submission aggregate checks that it names a video of the same submission when the captions are declared,
and evidence rows are never deleted, so the video it names stays on record.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evidence", sa.Column("captions_for", sa.Uuid))


def downgrade() -> None:
    op.drop_column("evidence", "captions_for")
