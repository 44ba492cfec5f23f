"""Sealed evidence: ``evidence.verified_key``, where the verified bytes are out of every URL's reach.

Upload URLs stay valid for minutes after an item is verified. A completed multipart upload is beyond
them already (the store refuses parts once it is completed), so its rows get their own upload key.
Single uploads verified before this revision keep ``verified_key`` NULL and are read from their
upload key.

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


def downgrade() -> None:
    # The code before this revision reads upload keys, which sealing deletes: downgrading after items
    # were sealed needs their copies moved back first.
    op.drop_column("evidence", "verified_key")
