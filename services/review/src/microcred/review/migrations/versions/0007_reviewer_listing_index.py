"""The index a reviewer's paged list of open reviews walks.

``GET /reviews/assigned`` pages a reviewer's open seats ordered by due date (or assignment time), filtered and
counted. ``ix_reviews_reviewer_status`` found the seats but not in order, so every page sorted all of them; with
``due_at`` and ``review_id`` (the tie-break) in the key the page is read in index order and stops at its limit.
The new index starts with the old one's columns, so it serves every lookup the old one did, which is dropped.
Built concurrently, like 0005, so a large ``reviews`` table keeps taking writes.

Revision ID: 0007
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_reviews_reviewer_open", "reviews", ["reviewer_id", "status", "due_at", "review_id"],
            postgresql_concurrently=True,
        )
        op.drop_index("ix_reviews_reviewer_status", table_name="reviews", postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_reviews_reviewer_status", "reviews", ["reviewer_id", "status"], postgresql_concurrently=True
        )
        op.drop_index("ix_reviews_reviewer_open", table_name="reviews", postgresql_concurrently=True)
