"""The teacher's district and school, carried to review for conflict-of-interest routing.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("teacher_district", sa.Text))
    op.add_column("submissions", sa.Column("teacher_school", sa.Text))


def downgrade() -> None:
    op.drop_column("submissions", "teacher_school")
    op.drop_column("submissions", "teacher_district")
