"""The statements adapters/repository.py sends on every award, decision and district poll, built once.

Built once, with a ``bindparam`` for every value, so each one's cache key is computed once, not walked again on
every call: building a Core statement per call and computing its key cost about 40% of the client's CPU per
statement (0.25 ms against 0.14 ms prebuilt, issue 22). Each sends the SQL the per-call statement sent.

An UPDATE's WHERE names its binds ``target_*``: a bind named after a column of the updated table is reserved
for that column's SET. A constant (a ledger entry's kind, a claim's status) stays a bound value of the
statement, so the SQL keeps its parameter where it had one.
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from microcred.licensure.adapters.orm import (
    AwardRow,
    AwardStatusChangeRow,
    CreditClaimRow,
    LedgerEntryRow,
    LicenseRow,
    RevokedAwardRow,
    RuleSetRow,
    StateApprovalRow,
)
from microcred.licensure.domain.model import ClaimStatus, EntryKind

RULE_SETS = cast(sa.Table, RuleSetRow.__table__)
LICENSES = cast(sa.Table, LicenseRow.__table__)
AWARDS = cast(sa.Table, AwardRow.__table__)
REVOKED = cast(sa.Table, RevokedAwardRow.__table__)
STATUS_CHANGES = cast(sa.Table, AwardStatusChangeRow.__table__)
LEDGER = cast(sa.Table, LedgerEntryRow.__table__)
CLAIMS = cast(sa.Table, CreditClaimRow.__table__)
APPROVALS = cast(sa.Table, StateApprovalRow.__table__)


def _binds(*columns: str) -> dict[str, sa.BindParameter[object]]:
    """VALUES (or SET) of ``columns`` in this order, each bound by its column's name (and typed by the column)."""
    return {column: sa.bindparam(column) for column in columns}


# -- rule sets ---------------------------------------------------------------------------------------------------

SELECT_RULE_SETS_OF_STATE = sa.select(RULE_SETS).where(RULE_SETS.c.state == sa.bindparam("state"))
SELECT_RULE_SET = sa.select(RULE_SETS).where(
    RULE_SETS.c.rule_set_id == sa.bindparam("rule_set_id"), RULE_SETS.c.version == sa.bindparam("version"))

# -- licenses ----------------------------------------------------------------------------------------------------

LICENSE_COLUMNS = ("license_id", "teacher_id", "state", "license_number", "license_type", "cycle_start", "cycle_end",
                   "required_amount", "district", "growth_plan")
INSERT_LICENSE_ONCE = (
    insert(LICENSES).values(_binds(*LICENSE_COLUMNS))
    .on_conflict_do_nothing(index_elements=[LICENSES.c.teacher_id, LICENSES.c.state, LICENSES.c.license_number])
    .returning(LICENSES.c.license_id)
)
SELECT_LICENSE = sa.select(LICENSES).where(LICENSES.c.license_id == sa.bindparam("license_id"))
SELECT_LICENSES_OF_TEACHER = sa.select(LICENSES).where(LICENSES.c.teacher_id == sa.bindparam("teacher_id")).order_by(
    LICENSES.c.license_id)

# -- awards, revocations and status changes ----------------------------------------------------------------------

AWARD_COLUMNS = ("award_id", "teacher_id", "credential_id", "credential_version", "credential_name", "issued_at",
                 "issuer_id", "valid_until", "credential", "credential_url")
INSERT_AWARD_ONCE = (
    insert(AWARDS).values(_binds(*AWARD_COLUMNS)).on_conflict_do_nothing().returning(AWARDS.c.award_id)
)
SELECT_AWARD = sa.select(AWARDS).where(AWARDS.c.award_id == sa.bindparam("award_id"))
SELECT_AWARDS_OF_TEACHER = sa.select(AWARDS).where(AWARDS.c.teacher_id == sa.bindparam("teacher_id")).order_by(
    AWARDS.c.issued_at)
SELECT_AWARDS_BY_IDS = sa.select(AWARDS).where(AWARDS.c.award_id.in_(sa.bindparam("award_ids", expanding=True)))

INSERT_REVOCATION_ONCE = (
    insert(REVOKED).values(_binds("award_id", "reason", "revoked_at")).on_conflict_do_nothing()
    .returning(REVOKED.c.award_id)
)
SELECT_REVOKED_AWARD_ID = sa.select(REVOKED.c.award_id).where(REVOKED.c.award_id == sa.bindparam("award_id"))

INSERT_STATUS_CHANGE_ONCE = (
    insert(STATUS_CHANGES).values(_binds("award_id", "status", "changed_at", "reason", "changed_by"))
    .on_conflict_do_nothing().returning(STATUS_CHANGES.c.award_id)
)
SELECT_STATUS_CHANGES = sa.select(STATUS_CHANGES).where(
    STATUS_CHANGES.c.award_id == sa.bindparam("award_id")).order_by(STATUS_CHANGES.c.changed_at)
SELECT_STATUS_CHANGES_OF_AWARDS = sa.select(STATUS_CHANGES).where(
    STATUS_CHANGES.c.award_id.in_(sa.bindparam("award_ids", expanding=True))).order_by(
    STATUS_CHANGES.c.award_id, STATUS_CHANGES.c.changed_at)

# -- the ledger --------------------------------------------------------------------------------------------------

LEDGER_COLUMNS = ("entry_id", "license_id", "award_id", "kind", "amount", "unit", "rule_set_id", "rule_set_version",
                  "earned_on", "reason", "reverses_entry_id")
INSERT_LEDGER_ENTRY_ONCE = (
    insert(LEDGER).values(_binds(*LEDGER_COLUMNS))
    .on_conflict_do_nothing(index_elements=[LEDGER.c.award_id, LEDGER.c.license_id, LEDGER.c.kind])
    .returning(LEDGER.c.entry_id)
)
SELECT_LEDGER_OF_LICENSE = sa.select(LEDGER).where(LEDGER.c.license_id == sa.bindparam("license_id")).order_by(
    LEDGER.c.earned_on, LEDGER.c.posted_at, LEDGER.c.entry_id)
SELECT_CREDIT = sa.select(LEDGER).where(
    LEDGER.c.award_id == sa.bindparam("award_id"), LEDGER.c.license_id == sa.bindparam("license_id"),
    LEDGER.c.kind == EntryKind.CREDIT.value)

# -- decisions ---------------------------------------------------------------------------------------------------

CLAIM_COLUMNS = ("award_id", "license_id", "status", "reason", "earned_on", "rule_set_id", "rule_set_version",
                 "amount", "unit", "decided_by", "decided_at")
INSERT_CLAIM_ONCE = insert(CLAIMS).values(_binds(*CLAIM_COLUMNS)).on_conflict_do_nothing().returning(
    CLAIMS.c.award_id)
UPDATE_CLAIM = (
    sa.update(CLAIMS)
    .where(CLAIMS.c.award_id == sa.bindparam("target_award_id"),
           CLAIMS.c.license_id == sa.bindparam("target_license_id"))
    .values(**_binds(*CLAIM_COLUMNS), updated_at=sa.func.now())
)
SELECT_CLAIM = sa.select(CLAIMS).where(
    CLAIMS.c.award_id == sa.bindparam("award_id"), CLAIMS.c.license_id == sa.bindparam("license_id"))
SELECT_CLAIM_FOR_UPDATE = SELECT_CLAIM.with_for_update()
SELECT_CLAIMS_OF_AWARD_FOR_UPDATE = sa.select(CLAIMS).where(
    CLAIMS.c.award_id == sa.bindparam("award_id")).with_for_update()
SELECT_CLAIMS_OF_LICENSE = sa.select(CLAIMS).where(CLAIMS.c.license_id == sa.bindparam("license_id")).order_by(
    CLAIMS.c.earned_on, CLAIMS.c.award_id)
MARK_EXPIRY_ANNOUNCED = (
    sa.update(CLAIMS)
    .where(CLAIMS.c.award_id == sa.bindparam("target_award_id"),
           CLAIMS.c.license_id == sa.bindparam("target_license_id"), CLAIMS.c.expiry_announced_at.is_(None))
    .values(expiry_announced_at=sa.bindparam("at"))
    .returning(CLAIMS.c.award_id)
)


def _pending(*, of_district: bool) -> sa.Select[tuple[object, ...]]:
    query = (
        sa.select(CLAIMS).join(LICENSES, LICENSES.c.license_id == CLAIMS.c.license_id)
        .where(CLAIMS.c.status == ClaimStatus.PENDING_APPROVAL.value, LICENSES.c.state == sa.bindparam("state"))
    )
    if of_district:
        query = query.where(LICENSES.c.district == sa.bindparam("district"))
    return query.order_by(CLAIMS.c.earned_on, CLAIMS.c.award_id).limit(
        sa.bindparam("limit", type_=sa.Integer)).offset(sa.bindparam("offset", type_=sa.Integer))


# A district's own page, or the whole state's (a state admin's, with no district named).
SELECT_PENDING_CLAIMS = _pending(of_district=False)
SELECT_PENDING_CLAIMS_OF_DISTRICT = _pending(of_district=True)

# -- state approvals ---------------------------------------------------------------------------------------------

SELECT_APPROVED_CREDENTIALS = sa.select(APPROVALS.c.credential_id).where(APPROVALS.c.state == sa.bindparam("state"))
