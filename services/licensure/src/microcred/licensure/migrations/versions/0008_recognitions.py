"""Recognition programs: the recognition ledger and the catalog's stacks and pathways.

``recognition_entries`` is append-only, like the credit ledger: one row per grant, reversal, approval or
decline of a program's outcome for a teacher, citing the program version and the awards behind it. What a
teacher holds is derived from the rows (domain.recognition.ledger.holdings), never stored beside them.

``catalog_memberships`` is the projection of catalog.stack-changed and catalog.pathway-changed: each stack's
and pathway's current credentials, at the highest revision heard (an inactive one holds none), which the
completion and eligibility programs are judged against.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recognition_entries",
        sa.Column("entry_id", sa.Uuid, primary_key=True),
        sa.Column("teacher_id", sa.Text, nullable=False),
        sa.Column("program_id", sa.Text, nullable=False),
        sa.Column("program_version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(2), nullable=False),
        sa.Column("district", sa.Text, nullable=True),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("award_ids", JSONB, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("amount", sa.Numeric(12, 4), nullable=True),
        sa.Column("pending", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", WHEN, nullable=False, server_default=sa.func.now()),
        # Ledger order within a teacher's program: created_at ties within one transaction, so a sequence.
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.CheckConstraint("kind IN ('grant', 'reverse', 'approve', 'decline')", name="ck_recognition_entries_kind"),
    )
    op.create_index("ix_recognition_entries_teacher", "recognition_entries", ["teacher_id", "program_id", "seq"])
    op.create_table(
        "catalog_memberships",
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("collection_id", sa.Uuid, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("credential_ids", JSONB, nullable=False),
        sa.Column("received_at", WHEN, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('stack', 'pathway')", name="ck_catalog_memberships_kind"),
    )
    # A membership change re-evaluates the teachers holding its credentials: found by credential.
    op.create_index("ix_awards_credential_id", "awards", ["credential_id"])


def downgrade() -> None:
    op.drop_index("ix_awards_credential_id", table_name="awards")
    op.drop_table("catalog_memberships")
    op.drop_index("ix_recognition_entries_teacher", table_name="recognition_entries")
    op.drop_table("recognition_entries")
