"""Reviewer access by seat: the seats assigned and the seats released (review.released), in place of a
plain list of reviewer ids that only a later assignment could shrink.

Existing reviewers become seats without a role: submission never learned which seat they held, and a
release of that reviewer from any seat of the attempt ends such a seat (domain.model.Seat).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EMPTY = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.add_column("submission_attempts", sa.Column("assigned_seats", JSONB, nullable=False, server_default=EMPTY))
    op.add_column("submission_attempts", sa.Column("released_seats", JSONB, nullable=False, server_default=EMPTY))
    # reviewer_id alone names the reviewer of attempts recorded before 0004 added reviewer_ids.
    op.execute(
        """
        UPDATE submission_attempts SET assigned_seats = (
            SELECT coalesce(jsonb_agg(jsonb_build_object('role', NULL, 'reviewer_id', id) ORDER BY id), '[]'::jsonb)
            FROM (SELECT jsonb_array_elements_text(reviewer_ids) AS id
                  UNION SELECT reviewer_id WHERE reviewer_id IS NOT NULL) AS reviewers
        )
        """
    )
    op.drop_column("submission_attempts", "reviewer_ids")


def downgrade() -> None:
    op.add_column("submission_attempts", sa.Column("reviewer_ids", JSONB, nullable=False, server_default=EMPTY))
    # The older schema cannot say "released": a released reviewer is simply left out.
    op.execute(
        """
        UPDATE submission_attempts SET reviewer_ids = (
            SELECT coalesce(jsonb_agg(DISTINCT seat->>'reviewer_id'), '[]'::jsonb)
            FROM jsonb_array_elements(assigned_seats) AS seat
            WHERE seat->>'reviewer_id' NOT IN (
                SELECT released->>'reviewer_id' FROM jsonb_array_elements(released_seats) AS released)
        )
        """
    )
    op.drop_column("submission_attempts", "released_seats")
    op.drop_column("submission_attempts", "assigned_seats")
