"""Licensure schema: rule sets (seeded with examples), licenses, awards, credential versions, the ledger,
outbox and inbox.

The seeded rule sets are EXAMPLES for development, not statements of any state's policy: each row's
``source_note`` says what it assumes. Confirm every figure with the state agency before relying on it,
and change a rule by inserting a new version (or a new rule set with a later ``effective_from``), never
by editing a row that ledger entries already cite.

Revision ID: 0001
"""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from microcred.runtime.messaging_tables import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(12, 4)

EXAMPLE_RULE_SETS = [
    {
        "rule_set_id": "TN-2024",
        "state": "TN",
        "version": 1,
        "effective_from": date(2024, 1, 1),
        "unit": "points",
        "amount_per_credential": Decimal("6"),
        "required_per_cycle": Decimal("60"),
        "source_note": "example; confirm with the state agency (TN Department of Education): "
        "professional development points toward renewal, 6 per micro-credential, 60 per renewal cycle.",
    },
    {
        "rule_set_id": "AR-2024",
        "state": "AR",
        "version": 1,
        "effective_from": date(2024, 1, 1),
        "unit": "hours",
        "amount_per_credential": Decimal("15"),
        "required_per_cycle": Decimal("36"),
        "source_note": "example; confirm with the state agency (Arkansas DESE): professional development "
        "hours, 15 per micro-credential, 36 required per year; assumes a license cycle of one year.",
    },
    {
        "rule_set_id": "UT-2024",
        "state": "UT",
        "version": 1,
        "effective_from": date(2024, 1, 1),
        "unit": "points",
        "amount_per_credential": Decimal("7.5"),
        "required_per_cycle": Decimal("200"),
        "source_note": "example; confirm with the state agency (USBE): professional learning points, "
        "200 per 5-year Level 2/3 renewal cycle; assumes 0.5 USBE credit per micro-credential at "
        "15 points per USBE credit.",
    },
]


def upgrade() -> None:
    rule_sets = op.create_table(
        "rule_sets",
        sa.Column("rule_set_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(2), nullable=False, index=True),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("amount_per_credential", AMOUNT, nullable=False),
        sa.Column("required_per_cycle", AMOUNT, nullable=False),
        sa.Column("source_note", sa.Text, nullable=False),
        sa.CheckConstraint("amount_per_credential >= 0 AND required_per_cycle >= 0", name="ck_rule_sets_amounts"),
    )
    op.create_table(
        "licenses",
        sa.Column("license_id", sa.Uuid, primary_key=True),
        sa.Column("teacher_id", sa.Text, nullable=False, index=True),
        sa.Column("state", sa.String(2), nullable=False),
        sa.Column("license_number", sa.Text, nullable=False),
        sa.Column("license_type", sa.Text, nullable=False),
        sa.Column("cycle_start", sa.Date, nullable=False),
        sa.Column("cycle_end", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("state", "license_number", name="uq_licenses_state_number"),
        sa.CheckConstraint("cycle_end > cycle_start", name="ck_licenses_cycle"),
    )
    op.create_table(
        "awards",
        sa.Column("award_id", sa.Uuid, primary_key=True),
        sa.Column("teacher_id", sa.Text, nullable=False, index=True),
        sa.Column("credential_id", sa.Uuid, nullable=False),
        sa.Column("credential_version", sa.Integer, nullable=False),
        sa.Column("credential_name", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "credential_versions",
        sa.Column("credential_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("issuer_id", sa.Uuid, nullable=False),
        sa.Column("issuer_name", sa.Text, nullable=False),
        sa.Column("credit_hints", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.Uuid, primary_key=True),
        sa.Column("license_id", sa.Uuid, sa.ForeignKey("licenses.license_id"), nullable=False, index=True),
        sa.Column("award_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("rule_set_id", sa.Text, nullable=False),
        sa.Column("rule_set_version", sa.Integer, nullable=False),
        sa.Column("earned_on", sa.Date, nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("award_id", "license_id", "kind", name="uq_ledger_award_license_kind"),
        sa.ForeignKeyConstraint(
            ["rule_set_id", "rule_set_version"], ["rule_sets.rule_set_id", "rule_sets.version"],
            name="fk_ledger_rule_set",
        ),
        sa.CheckConstraint("kind IN ('credit')", name="ck_ledger_kind"),
    )
    # The ledger is append-only in the database too, not only by convention in the code.
    op.execute(
        """
        CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
    )
    op.bulk_insert(rule_sets, EXAMPLE_RULE_SETS)
    create_messaging_tables(op.get_bind())


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
    op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_table("ledger_entries")
    op.drop_table("credential_versions")
    op.drop_table("awards")
    op.drop_table("licenses")
    op.drop_table("rule_sets")
