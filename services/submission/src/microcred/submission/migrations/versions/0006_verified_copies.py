"""Sealed evidence: ``evidence.verified_key``, where the verified bytes are out of every URL's reach.

Upload URLs stay valid for minutes after an item is verified. A completed multipart upload is beyond
them already (the store refuses parts once it is completed), so its rows get their own upload key.
Single uploads verified before this revision keep ``verified_key`` NULL and are read from their
upload key until the evidence sweep copies and seals them; the partial index finds those (and
shrinks to nothing as they are sealed). Built concurrently so that a large ``evidence`` table keeps
taking writes while it builds.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("evidence", sa.Column("verified_key", sa.Text))
    op.execute(
        "UPDATE evidence SET verified_key = object_key WHERE upload_mode = 'multipart' AND uploaded_at IS NOT NULL"
    )
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_evidence_verified_in_place",
            "evidence",
            ["created_at"],
            postgresql_where=sa.text("uploaded_at IS NOT NULL AND verified_key IS NULL AND removed_at IS NULL"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    # The code before this revision reads upload keys, which sealing deletes: downgrading after items
    # were sealed needs their copies moved back first.
    with op.get_context().autocommit_block():
        op.drop_index("ix_evidence_verified_in_place", table_name="evidence", postgresql_concurrently=True)
    op.drop_column("evidence", "verified_key")
