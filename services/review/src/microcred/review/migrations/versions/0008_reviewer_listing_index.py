"""The index a reviewer's paged list of open reviews walks.

``GET /reviews/assigned`` pages a reviewer's open seats ordered by due date (or assignment time), filtered and
counted. ``ix_reviews_reviewer_status`` found the seats but not in order, so every page sorted all of them; with
``due_at`` (or ``assigned_at``) and ``review_id`` (the tie-break) in the key the page is read in index order and
stops at its limit. ``credential_id`` and ``role`` ride along (INCLUDE), so the page's total and the summary's
counts are index-only scans once vacuum has marked the pages visible. The due-date index starts with the old
one's columns, so it serves every lookup the old one did, which is dropped. Built concurrently, like 0005, so a
large ``reviews`` table keeps taking writes.

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_reviews_reviewer_open", "reviews", ["reviewer_id", "status", "due_at", "review_id"],
            postgresql_include=["credential_id", "role"], postgresql_concurrently=True,
        )
        op.create_index(
            "ix_reviews_reviewer_assigned", "reviews", ["reviewer_id", "status", "assigned_at", "review_id"],
            postgresql_include=["credential_id", "role"], postgresql_concurrently=True,
        )
        op.drop_index("ix_reviews_reviewer_status", table_name="reviews", postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_reviews_reviewer_status", "reviews", ["reviewer_id", "status"], postgresql_concurrently=True
        )
        op.drop_index("ix_reviews_reviewer_assigned", table_name="reviews", postgresql_concurrently=True)
        op.drop_index("ix_reviews_reviewer_open", table_name="reviews", postgresql_concurrently=True)
