"""The competency of each credential version, for the report of who holds which competency by district.

catalog.credential-published always carried it; licensure kept only the name, issuer and hints. Versions
recorded before this migration have none (NULL) until the topic is read again; the report then names
their credential instead.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("credential_versions", sa.Column("competency", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("credential_versions", "competency")
