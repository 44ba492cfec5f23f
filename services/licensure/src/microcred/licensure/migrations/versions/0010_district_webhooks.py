"""A district's own webhooks: a subscription may be scoped to one district of its state.

``webhook_subscriptions.district`` null is a subscription of the whole state (every subscription so far); set,
the subscription is sent the records of that district's licenses only (domain.webhooks.receives). The existing
partial index on active subscriptions by state still serves the enqueue: a state has few subscriptions, and the
district is filtered among them.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_subscriptions", sa.Column("district", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_subscriptions", "district")
