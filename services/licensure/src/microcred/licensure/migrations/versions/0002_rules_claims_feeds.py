"""Rule sets as data (caps, acceptance, growth plan, district approval, revocation and expiry treatment),
licenses with required amount, district and growth plan, awards kept whole for the state feeds, revoked
awards, credit claims (one decision per award and license), state approvals, ledger reversals.

Existing rule set rows keep their meaning: the new columns default to "accepts all, no cap, no
approval, a revocation reverses, an expiry keeps".

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(12, 4)


def upgrade() -> None:
    op.add_column("rule_sets", sa.Column("cap_per_cycle", AMOUNT))
    op.add_column("rule_sets", sa.Column("accepts", sa.Text, nullable=False, server_default="all"))
    op.add_column("rule_sets", sa.Column("accepted_issuers", JSONB, nullable=False, server_default="[]"))
    op.add_column("rule_sets", sa.Column("accepted_credentials", JSONB, nullable=False, server_default="[]"))
    op.add_column("rule_sets", sa.Column("requires_growth_plan_match", sa.Boolean, nullable=False,
                                         server_default=sa.false()))
    op.add_column("rule_sets", sa.Column("requires_district_approval", sa.Boolean, nullable=False,
                                         server_default=sa.false()))
    op.add_column("rule_sets", sa.Column("on_revocation", sa.Text, nullable=False, server_default="reverse"))
    op.add_column("rule_sets", sa.Column("on_expiry", sa.Text, nullable=False, server_default="keep"))
    op.add_column("rule_sets", sa.Column("source_url", sa.Text))
    op.add_column("rule_sets", sa.Column("example", sa.Boolean, nullable=False, server_default=sa.true()))
    op.add_column("rule_sets", sa.Column("published_by", sa.Text))

    op.add_column("licenses", sa.Column("required_amount", AMOUNT))
    op.add_column("licenses", sa.Column("district", sa.Text))
    op.add_column("licenses", sa.Column("growth_plan", JSONB, nullable=False, server_default="[]"))

    op.add_column("awards", sa.Column("issuer_id", sa.Uuid))
    op.add_column("awards", sa.Column("valid_until", sa.DateTime(timezone=True)))
    op.add_column("awards", sa.Column("credential", JSONB))
    op.add_column("awards", sa.Column("credential_url", sa.Text))

    op.alter_column("ledger_entries", "award_id", nullable=True)
    op.add_column("ledger_entries", sa.Column("reason", sa.Text))
    op.add_column("ledger_entries", sa.Column("reverses_entry_id", sa.Uuid))
    op.drop_constraint("ck_ledger_kind", "ledger_entries", type_="check")
    # A credit is never negative and a reversal never positive: the sign says which way money moved.
    op.create_check_constraint(
        "ck_ledger_kind", "ledger_entries",
        "(kind = 'credit' AND amount >= 0 AND award_id IS NOT NULL)"
        " OR (kind = 'reversal' AND amount <= 0 AND award_id IS NOT NULL AND reverses_entry_id IS NOT NULL)"
        " OR kind = 'adjustment'",
    )

    op.create_table(
        "revoked_awards",
        sa.Column("award_id", sa.Uuid, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "credit_claims",
        sa.Column("award_id", sa.Uuid, primary_key=True),
        sa.Column("license_id", sa.Uuid, sa.ForeignKey("licenses.license_id"), primary_key=True, index=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("earned_on", sa.Date, nullable=False),
        sa.Column("rule_set_id", sa.Text),
        sa.Column("rule_set_version", sa.Integer),
        sa.Column("amount", AMOUNT),
        sa.Column("unit", sa.Text),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # Every credit already in the ledger was a decision to post.
    op.execute(
        "INSERT INTO credit_claims (award_id, license_id, status, earned_on, rule_set_id, rule_set_version, "
        "amount, unit) SELECT award_id, license_id, 'posted', earned_on, rule_set_id, rule_set_version, amount, unit "
        "FROM ledger_entries WHERE kind = 'credit'"
    )
    op.create_table(
        "state_approvals",
        sa.Column("state", sa.String(2), primary_key=True),
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("approved_by", sa.Text, nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("state_approvals")
    op.drop_table("credit_claims")
    op.drop_table("revoked_awards")
    op.drop_constraint("ck_ledger_kind", "ledger_entries", type_="check")
    op.create_check_constraint("ck_ledger_kind", "ledger_entries", "kind IN ('credit')")
    op.drop_column("ledger_entries", "reverses_entry_id")
    op.drop_column("ledger_entries", "reason")
    op.alter_column("ledger_entries", "award_id", nullable=False)
    for column in ("credential_url", "credential", "valid_until", "issuer_id"):
        op.drop_column("awards", column)
    for column in ("growth_plan", "district", "required_amount"):
        op.drop_column("licenses", column)
    for column in ("published_by", "example", "source_url", "on_expiry", "on_revocation",
                   "requires_district_approval", "requires_growth_plan_match", "accepted_credentials",
                   "accepted_issuers", "accepts", "cap_per_cycle"):
        op.drop_column("rule_sets", column)
