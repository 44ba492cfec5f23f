"""Recognition views: a program's ledger in a state, read by the holders list and the incentive report.

The ledger's only index leads with the teacher (a teacher's evaluation reads their entries); the views read
one program's (or a state's incentive programs') entries of every teacher, so an index that leads with the
program and state keeps those reads from scanning the whole ledger as it grows.

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_recognition_entries_program", "recognition_entries", ["program_id", "state", "year", "seq"])


def downgrade() -> None:
    op.drop_index("ix_recognition_entries_program", table_name="recognition_entries")
