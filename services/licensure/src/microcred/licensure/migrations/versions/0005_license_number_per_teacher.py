"""A license number is unique per teacher and state, not per state (ADR 0004).

Under the old constraint a teacher who registered a number someone else had already registered got a
409, which told them that license existed, and a teacher who registered another's number first
blocked its holder for good. The state's registry is the authority on who holds a number; the state
sees every registration (teacher and number) in its feed and reports.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_unique_constraint(
        "uq_licenses_teacher_state_number", "licenses", ["teacher_id", "state", "license_number"]
    )
    op.drop_constraint("uq_licenses_state_number", "licenses", type_="unique")


def downgrade() -> None:
    # Fails while two teachers hold registrations of one number: the state must settle those first.
    op.create_unique_constraint("uq_licenses_state_number", "licenses", ["state", "license_number"])
    op.drop_constraint("uq_licenses_teacher_state_number", "licenses", type_="unique")
