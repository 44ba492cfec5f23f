"""An index for the approval queue: claims waiting for a district's decision.

``GET .../credits/pending`` filtered ``credit_claims`` on its status with no index to use, so every
page of the queue read every claim ever made. The partial index holds only the waiting claims, in
the order the queue is listed, so it stays as small as the queue itself.

Built concurrently so that a large ``credit_claims`` table keeps taking writes while it builds.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_credit_claims_pending",
            "credit_claims",
            ["earned_on", "award_id"],
            postgresql_where=sa.text("status = 'pending_approval'"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_credit_claims_pending", table_name="credit_claims", postgresql_concurrently=True)
