"""Indexes for the lookups routing makes on every submitted attempt.

Every seat of an attempt (``submission_id``, ``attempt``) and every row of a panel
(``coalesce(parent_review_id, review_id)``) were found by scanning the whole table: the only index on
the attempt was the partial one over primaries. Routing holds its advisory lock while it looks, so the
scans serialised all routing behind a cost that grows with every review ever made.

Built concurrently so that a large ``reviews`` table keeps taking writes while the index builds;
``CREATE INDEX CONCURRENTLY`` cannot run inside a transaction, hence the autocommit blocks.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_reviews_attempt", "reviews", ["submission_id", "attempt"], postgresql_concurrently=True
        )
        op.create_index(
            "ix_reviews_panel",
            "reviews",
            [sa.text("coalesce(parent_review_id, review_id)")],
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_reviews_panel", table_name="reviews", postgresql_concurrently=True)
        op.drop_index("ix_reviews_attempt", table_name="reviews", postgresql_concurrently=True)
