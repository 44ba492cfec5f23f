"""Pure licensure rules: rule in force, what an award does for a license and why, caps, cycles, sums."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.licensure.adapters.rule_files import parse_rule_set_file, shipped_rule_sets
from microcred.licensure.domain.model import (
    AwardRecord,
    ClaimStatus,
    CreditClaim,
    EntryKind,
    LedgerEntry,
    License,
    Outcome,
    RuleSet,
    earned_in_cycle,
    evaluate,
    rule_in_force,
)
from microcred.runtime.errors import Conflict, Invalid


def outcome(license: License, rule_set: RuleSet | None, award: AwardRecord, *, earned: Decimal = Decimal(0),
            approved: set[UUID] | None = None, revoked: bool = False) -> Outcome | None:
    return evaluate(license, rule_set, award, earned_in_cycle=earned, state_approved=approved or set(),
                    revoked=revoked)


def credit(license: License, amount: str, earned_on: date = date(2025, 3, 4)) -> LedgerEntry:
    return LedgerEntry(entry_id=uuid4(), license_id=license.license_id, award_id=uuid4(), kind=EntryKind.CREDIT,
                       amount=Decimal(amount), unit="points", rule_set_id="X", rule_set_version=1, earned_on=earned_on)


def test_no_rule_is_in_force_before_the_first_rule_set_takes_effect(build: Any) -> None:
    assert rule_in_force([build.tn], "TN", date(2023, 12, 31)) is None


def test_a_rule_set_is_in_force_from_its_effective_day(build: Any) -> None:
    assert rule_in_force([build.tn], "TN", date(2024, 1, 1)) == build.tn


def test_the_latest_effective_rule_set_wins_once_it_takes_effect(build: Any) -> None:
    newer = replace(build.tn, rule_set_id="TN-2026", effective_from=date(2026, 7, 1), amount_per_credential=Decimal(8))
    assert rule_in_force([newer, build.tn], "TN", date(2026, 6, 30)) == build.tn
    assert rule_in_force([build.tn, newer], "TN", date(2026, 7, 1)) == newer


def test_a_higher_version_with_the_same_effective_day_wins(build: Any) -> None:
    corrected = replace(build.tn, version=2, amount_per_credential=Decimal(5))
    assert rule_in_force([corrected, build.tn], "TN", date(2025, 1, 1)) == corrected


def test_another_states_rules_never_apply(build: Any) -> None:
    assert rule_in_force([build.ut], "TN", date(2025, 1, 1)) is None


def test_an_award_posts_the_rule_sets_amount_in_its_unit(build: Any) -> None:
    assert outcome(build.license(state="UT"), build.ut, build.award()) == Outcome(
        ClaimStatus.POSTED, None, Decimal("7.5"))


def test_fractional_credits_post_exactly(build: Any) -> None:
    result = outcome(build.license(state="UT"), build.ut_credits, build.award(), earned=Decimal("0.5"))
    assert result is not None and result.amount == Decimal("0.5") and build.ut_credits.unit == "credits"


def test_the_cap_takes_what_is_left_and_then_nothing(build: Any) -> None:
    license = build.license()
    partial = outcome(license, build.tn_capped, build.award(), earned=Decimal(12))
    assert partial is not None and partial.status is ClaimStatus.POSTED and partial.amount == Decimal(3)
    assert partial.reason == "capped: 3 of 6 points counted (cap 15 per cycle)"
    full = outcome(license, build.tn_capped, build.award(), earned=Decimal(15))
    assert full is not None and full.status is ClaimStatus.CAPPED and full.amount == 0
    assert "cap of 15 points" in (full.reason or "")


def test_a_rule_set_needing_district_approval_holds_the_credit_pending(build: Any) -> None:
    result = outcome(build.license(state="AR"), build.ar_approval, build.award())
    assert result == Outcome(ClaimStatus.PENDING_APPROVAL, "waiting for the district's approval", Decimal(15))


def test_an_award_outside_the_cycle_is_rejected_with_the_reason(build: Any) -> None:
    license = build.license(cycle_start=date(2025, 7, 1), cycle_end=date(2030, 6, 30))
    result = outcome(license, build.tn, build.award())
    assert result is not None and result.status is ClaimStatus.REJECTED
    assert result.reason == "earned on 2025-03-04, outside the renewal cycle 2025-07-01 to 2030-06-30"


def test_without_a_rule_set_in_force_the_award_is_rejected_and_says_so(build: Any) -> None:
    result = outcome(build.license(state="KY"), None, build.award())
    assert result is not None and result.reason == "no KY rule set was in force on 2025-03-04"


def test_a_revoked_credential_earns_nothing(build: Any) -> None:
    result = outcome(build.license(), build.tn, build.award(), revoked=True)
    assert result is not None and result.status is ClaimStatus.REJECTED and "revoked" in (result.reason or "")


def test_another_teachers_award_is_none_of_the_licenses_business(build: Any) -> None:
    assert outcome(build.license(), build.tn, build.award(teacher_id="someone-else")) is None


def test_a_rule_set_of_another_state_is_refused(build: Any) -> None:
    with pytest.raises(Invalid):
        outcome(build.license(state="TN"), build.ut, build.award())


def test_a_state_that_lists_issuers_accepts_only_those(build: Any) -> None:
    issuer = uuid4()
    listed = replace(build.tn, accepts="listed", accepted_issuers=(issuer,))
    accepted = outcome(build.license(), listed, build.award(issuer_id=issuer))
    refused = outcome(build.license(), listed, build.award(issuer_id=uuid4()))
    assert accepted is not None and accepted.status is ClaimStatus.POSTED
    assert refused is not None and refused.status is ClaimStatus.REJECTED and "not listed" in (refused.reason or "")


def test_a_state_that_approves_credentials_counts_only_approved_ones(build: Any) -> None:
    credential = uuid4()
    rules = replace(build.tn, accepts="state_approved")
    approved = outcome(build.license(), rules, build.award(credential_id=credential), approved={credential})
    assert approved is not None and approved.status is ClaimStatus.POSTED
    other = outcome(build.license(), rules, build.award(), approved={credential})
    assert other is not None and other.status is ClaimStatus.REJECTED


def test_a_growth_plan_rule_counts_only_credentials_in_the_plan(build: Any) -> None:
    credential = uuid4()
    rules = replace(build.tn, requires_growth_plan_match=True)
    planned = outcome(build.license(growth_plan=(credential,)), rules, build.award(credential_id=credential))
    unplanned = outcome(build.license(growth_plan=(credential,)), rules, build.award())
    assert planned is not None and planned.status is ClaimStatus.POSTED
    assert unplanned is not None and "growth plan" in (unplanned.reason or "")


@pytest.mark.parametrize("change", [
    {"unit": "furlongs"}, {"amount_per_credential": Decimal(0)}, {"cap_per_cycle": Decimal(1)},
    {"accepts": "listed"}, {"state": "Tennessee"},
])
def test_a_rule_set_that_makes_no_sense_is_refused_with_the_reason(build: Any, change: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        replace(build.tn, **change)


def test_a_cycle_contains_its_first_and_last_day_only(build: Any) -> None:
    license = build.license(cycle_start=date(2024, 7, 1), cycle_end=date(2029, 6, 30))
    assert license.cycle_contains(date(2024, 7, 1)) and license.cycle_contains(date(2029, 6, 30))
    assert not license.cycle_contains(date(2024, 6, 30)) and not license.cycle_contains(date(2029, 7, 1))


def test_an_award_counts_on_its_utc_day(build: Any) -> None:
    late_evening_in_tennessee = datetime(2024, 6, 30, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    award = build.award(issued_at=late_evening_in_tennessee)
    assert award.earned_on == date(2024, 7, 1)
    result = outcome(build.license(cycle_start=date(2024, 7, 1)), build.tn, award)
    assert result is not None and result.status is ClaimStatus.POSTED


def test_a_license_cycle_must_end_after_it_starts(build: Any) -> None:
    with pytest.raises(Invalid):
        build.license(cycle_start=date(2025, 1, 1), cycle_end=date(2025, 1, 1))


def test_a_licenses_own_requirement_overrides_the_rule_sets(build: Any) -> None:
    license = replace(build.license(), required_amount=Decimal(30))
    assert license.required(build.tn) == Decimal(30)
    assert build.license().required(build.tn) == Decimal(60)


def test_progress_sums_the_licenses_entries_in_its_cycle_exactly(build: Any) -> None:
    license = build.license(state="UT")
    entries = [credit(license, "0.5") for _ in range(3)]
    reversal = replace(entries[0], entry_id=uuid4(), kind=EntryKind.REVERSAL, amount=Decimal("-0.5"))
    other_license = credit(build.license(state="UT"), "0.5")
    before_cycle = replace(entries[0], entry_id=uuid4(), earned_on=date(2020, 1, 1))
    assert earned_in_cycle(license, [*entries, reversal, other_license, before_cycle]) == Decimal("1.0")


def test_progress_of_a_license_without_entries_is_zero(build: Any) -> None:
    assert earned_in_cycle(build.license(), []) == Decimal(0)


def test_progress_is_described_by_todays_rules_held_within_the_cycle(build: Any) -> None:
    license = build.license(cycle_start=date(2024, 7, 1), cycle_end=date(2029, 6, 30))
    assert license.cycle_reference_day(date(2026, 1, 1)) == date(2026, 1, 1)
    assert license.cycle_reference_day(date(2031, 1, 1)) == date(2029, 6, 30)
    assert license.cycle_reference_day(date(2020, 1, 1)) == date(2024, 7, 1)


def test_only_a_pending_claim_is_decided_and_a_rejection_needs_a_reason() -> None:
    claim = CreditClaim(award_id=uuid4(), license_id=uuid4(), status=ClaimStatus.PENDING_APPROVAL, reason=None,
                        earned_on=date(2025, 3, 4))
    with pytest.raises(Invalid):
        claim.decide(False, "  ", "district-1", datetime.now(UTC))
    claim.decide(False, "not aligned with the school plan", "district-1", datetime.now(UTC))
    assert claim.status is ClaimStatus.DISTRICT_REJECTED and claim.decided_by == "district-1"
    with pytest.raises(Conflict):
        claim.decide(True, "", "district-1", datetime.now(UTC))


# -- the shipped rule set files -----------------------------------------------------------------------


def test_the_shipped_rule_sets_cover_points_with_a_cap_fractional_credits_and_district_approval() -> None:
    shipped = shipped_rule_sets()
    today = {state: rule_in_force(shipped, state, date(2026, 1, 1)) for state in ("TN", "UT", "AR")}
    assert today["TN"] is not None and today["TN"].cap_per_cycle == Decimal(30) and today["TN"].unit == "points"
    assert today["UT"] is not None and today["UT"].amount_per_credential == Decimal("0.5")
    assert today["AR"] is not None and today["AR"].requires_district_approval
    assert all(rule_set.example and rule_set.source_note for rule_set in shipped), "examples say so"


def test_a_rule_set_file_with_an_unknown_field_is_refused_naming_the_file() -> None:
    text = '{"rule_set_id": "X", "state": "TN", "agency": "a", "example": true, "versions": [' \
           '{"version": 1, "effective_from": "2024-01-01", "unit": "points", "amount_per_credential": "6", ' \
           '"required_per_cycle": "60", "bonus": 1}]}'
    with pytest.raises(ValueError, match=r"TN\.json"):
        parse_rule_set_file(text, "TN.json")
