"""A credential version's own calibration size, from ``catalog.credential-published``.

NULL (every version recorded before this revision, and any version that did not set one) means the
service's ``calibration_size`` setting applies.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("credential_versions", sa.Column("calibration_size", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("credential_versions", "calibration_size")
