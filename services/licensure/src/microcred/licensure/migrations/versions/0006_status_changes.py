"""Credential status changes for the state feeds: what licensure heard, and which expiries it announced.

``award_status_changes`` keeps every suspension, reinstatement and revocation licensure heard of, keyed on
(award_id, status, changed_at): the same change delivered again, even under a new event id, inserts
nothing and so is announced once. It also answers "what is this award's standing now" (the latest
``changed_at``) for a license that meets the award later, and it records changes that arrive before
their award (different topics, no order between them).

``credit_claims.expiry_announced_at`` is when the expiry sweep told the claim's state that the award had
expired: set in the transaction that wrote the record, so each state hears of each expiry once. The
sweep looks for claims without it among awards past their ``valid_until``; the partial index on
``awards.valid_until`` keeps that scan to expiring awards.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "award_status_changes",
        sa.Column("award_id", sa.Uuid, primary_key=True),
        sa.Column("status", sa.Text, primary_key=True),
        sa.Column("changed_at", WHEN, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_by", sa.Text, nullable=True),
        sa.Column("recorded_at", WHEN, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('suspended', 'reinstated', 'revoked')", name="ck_award_status_changes_status"),
    )
    op.add_column("credit_claims", sa.Column("expiry_announced_at", WHEN, nullable=True))
    op.create_index("ix_awards_valid_until", "awards", ["valid_until"],
                    postgresql_where=sa.text("valid_until IS NOT NULL"))
    # Expiries that passed before this release were never announced; they will be, once, by the first sweep.


def downgrade() -> None:
    op.drop_index("ix_awards_valid_until", table_name="awards")
    op.drop_column("credit_claims", "expiry_announced_at")
    op.drop_table("award_status_changes")
