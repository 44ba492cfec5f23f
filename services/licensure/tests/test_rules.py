"""Pure licensure rules: rule in force, credit amount, cycle containment, progress sum."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from microcred.licensure.domain.model import EntryKind, credit_for, earned_in_cycle, rule_in_force
from microcred.runtime.errors import Invalid


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


def test_a_credit_is_worth_the_rule_sets_amount_in_its_unit(build: Any) -> None:
    license, award = build.license(state="UT"), build.award()
    entry = credit_for(license, build.ut, award, uuid4())
    assert entry is not None
    assert (entry.amount, entry.unit, entry.kind) == (Decimal("7.5"), "points", EntryKind.CREDIT)
    assert (entry.rule_set_id, entry.rule_set_version) == ("UT-2024", 1)
    assert (entry.license_id, entry.award_id, entry.earned_on) == (license.license_id, award.award_id, date(2025, 3, 4))


def test_an_award_outside_the_cycle_earns_nothing(build: Any) -> None:
    license = build.license(cycle_start=date(2025, 7, 1), cycle_end=date(2030, 6, 30))
    assert credit_for(license, build.tn, build.award(), uuid4()) is None


def test_another_teachers_award_earns_the_license_nothing(build: Any) -> None:
    assert credit_for(build.license(), build.tn, build.award(teacher_id="someone-else"), uuid4()) is None


def test_a_rule_set_of_another_state_is_refused(build: Any) -> None:
    with pytest.raises(Invalid):
        credit_for(build.license(state="TN"), build.ut, build.award(), uuid4())


def test_a_cycle_contains_its_first_and_last_day_only(build: Any) -> None:
    license = build.license(cycle_start=date(2024, 7, 1), cycle_end=date(2029, 6, 30))
    assert license.cycle_contains(date(2024, 7, 1)) and license.cycle_contains(date(2029, 6, 30))
    assert not license.cycle_contains(date(2024, 6, 30)) and not license.cycle_contains(date(2029, 7, 1))


def test_an_award_counts_on_its_utc_day(build: Any) -> None:
    late_evening_in_tennessee = datetime(2024, 6, 30, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    award = build.award(issued_at=late_evening_in_tennessee)
    assert award.earned_on == date(2024, 7, 1)
    assert credit_for(build.license(cycle_start=date(2024, 7, 1)), build.tn, award, uuid4()) is not None


def test_a_license_cycle_must_end_after_it_starts(build: Any) -> None:
    with pytest.raises(Invalid):
        build.license(cycle_start=date(2025, 1, 1), cycle_end=date(2025, 1, 1))


def test_progress_sums_the_licenses_entries_in_its_cycle_exactly(build: Any) -> None:
    license = build.license(state="UT")
    entries = []
    for _ in range(3):
        entry = credit_for(license, build.ut, build.award(issued_at=datetime(2025, 1, 1, tzinfo=UTC)), uuid4())
        assert entry is not None
        entries.append(entry)
    other_license = credit_for(build.license(state="UT"), build.ut, build.award(), uuid4())
    assert other_license is not None
    before_cycle = replace(entries[0], entry_id=uuid4(), earned_on=date(2020, 1, 1))
    assert earned_in_cycle(license, [*entries, other_license, before_cycle]) == Decimal("22.5")


def test_progress_of_a_license_without_entries_is_zero(build: Any) -> None:
    assert earned_in_cycle(build.license(), []) == Decimal(0)


def test_progress_is_described_by_todays_rules_held_within_the_cycle(build: Any) -> None:
    license = build.license(cycle_start=date(2024, 7, 1), cycle_end=date(2029, 6, 30))
    assert license.cycle_reference_day(date(2026, 1, 1)) == date(2026, 1, 1)
    assert license.cycle_reference_day(date(2031, 1, 1)) == date(2029, 6, 30)
    assert license.cycle_reference_day(date(2020, 1, 1)) == date(2024, 7, 1)
