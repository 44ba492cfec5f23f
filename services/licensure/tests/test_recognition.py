"""Recognition programs, pure: every rule kind and option, caps across years, reversal and reinstatement.

Awards live on their own clock (``day(n)``); ``run`` evaluates once and returns the ledger with what the
evaluation added; ``held`` is what a ledger holds, key -> (status, net).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.licensure.domain.recognition import (
    HeldAward,
    Memberships,
    Program,
    RecognitionEntry,
    decide,
    evaluate,
    holdings,
    progress,
)
from microcred.runtime.errors import Conflict, Invalid

T0 = datetime(2025, 3, 1, 9, tzinfo=UTC)
LATER = datetime(2025, 12, 1, tzinfo=UTC)
STACK = UUID("6e4f4a1a-a5c8-565f-a5e5-810f6bd641e3")
SIX = tuple(UUID(int=i) for i in range(1, 7))
MEMBERS = Memberships(stacks={STACK: frozenset(SIX)})


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def program(rule: dict[str, Any], outcome: dict[str, Any], **options: Any) -> Program:
    return Program.model_validate({
        "program_id": "P", "version": 1, "state": "AR", "name": "Test program",
        "effective_from": date(2024, 1, 1), "outcome": outcome, "rule": rule, **options,
    })


def mentor(**options: Any) -> Program:
    return program({"kind": "complete_stack", "stack_id": str(STACK)},
                   {"kind": "designation", "label": "Mentor Teacher"}, **options)


def steps(**options: Any) -> Program:
    rule = {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 5, "max_per_year": 1,
            **options.pop("rule", {})}
    return program(rule, {"kind": "salary_step", "label": "Lane step", "amount": "1000", "unit": "USD"}, **options)


def incentive(**options: Any) -> Program:
    rule = {"kind": "incentive_per_credential", "from_set": {"any_credential": True}, "cap_per_year": "1500",
            **options.pop("rule", {})}
    return program(rule, {"kind": "incentive", "label": "Incentive", "amount": "500", "unit": "USD"}, **options)


def award(credential: UUID | int, issued: datetime, **kw: Any) -> HeldAward:
    cred = credential if isinstance(credential, UUID) else UUID(int=credential)
    return HeldAward(award_id=uuid4(), credential_id=cred, issued_at=issued, **kw)


def awards(count: int, start: datetime = T0, first: int = 1) -> list[HeldAward]:
    return [award(first + i, start + timedelta(days=i)) for i in range(count)]


def run(prog: Program, held: Iterable[HeldAward], *, as_of: datetime = LATER,
        ledger: Sequence[RecognitionEntry] = (), growth_plan: Iterable[UUID] = (),
        memberships: Memberships = MEMBERS) -> list[RecognitionEntry]:
    """The ledger after one evaluation: what it held plus what the evaluation added."""
    return [*ledger, *evaluate(prog, list(held), growth_plan=growth_plan, memberships=memberships, as_of=as_of,
                               already=ledger)]


def held(ledger: Iterable[RecognitionEntry]) -> dict[str, tuple[str, Decimal]]:
    """What the ledger holds, key -> (status, net): the comparison the order-independence tests make."""
    return {key: (h.status, h.net) for key, h in holdings(ledger).items()}


def grants(ledger: Iterable[RecognitionEntry]) -> list[RecognitionEntry]:
    return [e for e in ledger if e.kind == "grant"]


# -- completing a stack or a pathway, eligibility ------------------------------------------------------------

def test_five_of_the_six_earn_no_designation_and_show_as_progress() -> None:
    five = [award(c, day(i)) for i, c in enumerate(SIX[:5])]
    assert run(mentor(), five) == []
    assert progress(mentor(), five, memberships=MEMBERS, as_of=LATER) == (5, 6, "for Mentor Teacher")
    assert str(progress(mentor(), five, memberships=MEMBERS, as_of=LATER)) == "5 of 6 for Mentor Teacher"


def test_the_sixth_credential_of_the_stack_grants_the_designation_citing_version_and_awards() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    [entry] = run(mentor(version=3), six)
    assert (entry.kind, entry.key, entry.program_id, entry.program_version) == ("grant", "complete", "P", 3)
    assert set(entry.award_ids) == {a.award_id for a in six} and entry.year == 2025 and not entry.pending
    assert "Mentor Teacher" in entry.reason


def test_a_stack_the_catalog_never_described_is_never_complete() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    assert run(mentor(), six, memberships=Memberships()) == []
    assert progress(mentor(), six, as_of=LATER) == (0, 0, "for Mentor Teacher")


def test_a_designation_is_not_taken_back_while_its_stacks_membership_is_unknown() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    ledger = run(mentor(), six)
    assert run(mentor(), six, ledger=ledger, memberships=Memberships()) == ledger
    assert len(run(mentor(), six[1:], ledger=ledger)) == 2  # with the membership known, a loss still reverses


def test_a_second_award_of_the_same_credential_does_not_stand_in_for_a_missing_one() -> None:
    assert run(mentor(), [award(c, day(i)) for i, c in enumerate(SIX[:5])] + [award(SIX[0], day(9))]) == []


def test_completing_a_pathway_grants_its_designation() -> None:
    pathway = UUID(int=99)
    prog = program({"kind": "complete_pathway", "pathway_id": str(pathway)},
                   {"kind": "designation", "label": "Teacher Leader"})
    members = Memberships(pathways={pathway: frozenset(SIX[:3])})
    assert run(prog, awards(2), memberships=members) == []
    assert [e.key for e in run(prog, awards(3), memberships=members)] == ["complete"]


def test_eligibility_needs_every_listed_credential_and_every_credential_of_every_listed_stack() -> None:
    extra = UUID(int=50)
    prog = program({"kind": "eligibility", "credentials": [str(extra)], "stacks": [str(STACK)]},
                   {"kind": "eligibility", "label": "Secondary science",
                    "role": {"title": "Science teacher", "subject": "Science", "grade_band": "6-12"}})
    stack_only = [award(c, day(i)) for i, c in enumerate(SIX)]
    assert run(prog, stack_only) == []
    assert progress(prog, stack_only, memberships=MEMBERS, as_of=LATER) == (6, 7, "for Secondary science")
    [entry] = run(prog, [*stack_only, award(extra, day(10))])
    assert entry.kind == "grant" and len(entry.award_ids) == 7
    assert prog.outcome.role is not None and prog.outcome.role.grade_band == "6-12"


def test_eligibility_over_a_stack_the_catalog_never_described_is_never_granted() -> None:
    listed = UUID(int=50)
    prog = program({"kind": "eligibility", "credentials": [str(listed)], "stacks": [str(UUID(int=77))]},
                   {"kind": "eligibility", "label": "Secondary science"})
    assert run(prog, [award(listed, day(1))]) == []


# -- counting credentials from a set: steps --------------------------------------------------------------------

def test_four_credentials_earn_no_step_and_five_earn_one() -> None:
    assert run(steps(), awards(4)) == []
    [entry] = run(steps(), awards(5))
    assert (entry.key, entry.amount, entry.year, len(entry.award_ids)) == ("step-1", Decimal(1000), 2025, 5)


def test_progress_toward_the_next_step_counts_what_is_past_the_last_step() -> None:
    assert progress(steps(), awards(8), as_of=LATER) == (3, 5, "toward the next step")
    assert progress(steps(), awards(3), as_of=LATER) == (3, 5, "toward the next step")


def test_at_most_one_step_a_year_and_the_next_waits_for_the_new_year() -> None:
    ten = awards(10)
    ledger = run(steps(), ten)
    assert held(ledger) == {"step-1": ("granted", Decimal(1000))}
    ledger = run(steps(), ten, ledger=ledger, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    assert held(ledger) == {"step-1": ("granted", Decimal(1000)), "step-2": ("granted", Decimal(1000))}
    assert grants(ledger)[-1].year == 2026


def test_without_a_yearly_cap_every_five_earn_a_step_at_once() -> None:
    assert [e.key for e in run(steps(rule={"max_per_year": None}), awards(11))] == ["step-1", "step-2"]


def test_a_count_that_does_not_repeat_earns_its_unit_once() -> None:
    once = steps(rule={"max_per_year": None, "repeats": False})
    assert [e.key for e in run(once, awards(15))] == ["step-1"]
    assert progress(once, awards(7), as_of=LATER) == (5, 5, "for Lane step")
    assert progress(once, awards(3), as_of=LATER) == (3, 5, "for Lane step")


def test_steps_count_only_credentials_of_the_set() -> None:
    listed = steps(rule={"from_set": {"credentials": [str(UUID(int=i)) for i in range(1, 5)],
                                      "stacks": [str(STACK)]}})
    assert run(listed, awards(5, first=7)) == []  # 7..11: none listed, none in the stack
    assert run(listed, awards(5, first=3)) == []  # 3, 4 listed, 5, 6 in the stack, 7 neither
    assert [e.key for e in run(listed, awards(5, first=2))] == ["step-1"]  # 2..4 listed, 5, 6 in the stack


def test_a_schedule_counts_only_credentials_earned_while_it_is_in_force() -> None:
    prog = steps(effective_from="2025-03-03")
    assert run(prog, awards(5)) == []  # the first two were issued on March 1 and 2
    assert len(run(prog, awards(5, start=day(2)))) == 1


def test_caps_count_steps_the_ledger_already_holds_in_a_year() -> None:
    # Five in 2025 then five in 2026 and five more in 2026: the 2026 step is held, the third waits for 2027.
    fifteen = awards(5) + awards(10, start=datetime(2026, 2, 1, tzinfo=UTC), first=6)
    ledger = run(steps(), fifteen, as_of=datetime(2026, 3, 1, tzinfo=UTC))
    assert [(e.key, e.year) for e in ledger] == [("step-1", 2025), ("step-2", 2026)]
    assert run(steps(), fifteen, ledger=ledger, as_of=datetime(2026, 12, 31, tzinfo=UTC)) == ledger
    later = run(steps(), fifteen, ledger=ledger, as_of=datetime(2027, 1, 1, tzinfo=UTC))
    assert [(e.key, e.year) for e in later[2:]] == [("step-3", 2027)]


def test_steps_by_program_year_change_at_the_program_years_start() -> None:
    prog = steps(rule={"year": "program"}, program_year_starts="07-01")
    ten = awards(5, start=datetime(2025, 6, 1, tzinfo=UTC)) + awards(5, start=datetime(2025, 6, 20, tzinfo=UTC),
                                                                    first=6)
    assert [e.key for e in run(prog, ten, as_of=datetime(2025, 6, 30, tzinfo=UTC))] == ["step-1"]
    assert [(e.key, e.year) for e in run(prog, ten, as_of=datetime(2025, 7, 1, tzinfo=UTC))] == [
        ("step-1", 2024), ("step-2", 2025)]


# -- incentives ------------------------------------------------------------------------------------------------

def test_each_credential_earns_the_incentive_up_to_the_years_cap() -> None:
    assert [(e.key, e.amount) for e in run(incentive(), awards(2))] == [("year-2025", Decimal(1000))]
    assert [(e.key, e.amount) for e in run(incentive(), awards(4))] == [("year-2025", Decimal(1500))]


def test_a_later_credential_tops_up_the_years_incentive_by_what_the_ledger_does_not_hold() -> None:
    first, later = awards(2), awards(3, start=day(30), first=3)
    ledger = run(incentive(), first)
    more = run(incentive(), first + later, ledger=ledger)
    assert more[len(ledger):][0].amount == Decimal(500)  # 1000 held, the cap leaves 500 of the 1500 earned
    # Each entry cites the awards it pays for, so payroll can match a payment to its credentials.
    assert ledger[0].award_ids == tuple(a.award_id for a in first)
    assert more[len(ledger):][0].award_ids == tuple(a.award_id for a in later)
    assert held(more) == {"year-2025": ("granted", Decimal(1500))}


def test_each_year_has_its_own_cap() -> None:
    spread = awards(4) + awards(1, start=datetime(2026, 1, 5, tzinfo=UTC), first=9)
    ledger = run(incentive(), spread, as_of=datetime(2026, 2, 1, tzinfo=UTC))
    assert held(ledger) == {"year-2025": ("granted", Decimal(1500)), "year-2026": ("granted", Decimal(500))}


def test_incentives_by_program_year_split_on_its_first_day() -> None:
    prog = incentive(rule={"year": "program"}, program_year_starts="07-01")
    two = [award(1, datetime(2025, 6, 30, 12, tzinfo=UTC)), award(2, datetime(2025, 7, 1, tzinfo=UTC))]
    assert held(run(prog, two)) == {"year-2024": ("granted", Decimal(500)), "year-2025": ("granted", Decimal(500))}
    assert progress(prog, two, as_of=LATER) == (500, 1500, "USD of the 2025 cap for Incentive")


def test_an_uncapped_incentive_pays_for_every_credential() -> None:
    uncapped = incentive(rule={"cap_per_year": None})
    assert run(uncapped, awards(5))[0].amount == Decimal(2500)
    assert str(progress(uncapped, awards(5), as_of=LATER)) == "2500 USD in 2025 for Incentive"  # no cap to be "of"


# -- master's equivalency -------------------------------------------------------------------------------------

def equivalency(**options: Any) -> Program:
    return program({"kind": "equivalency_hours", "from_set": {"any_credential": True}, "hours_per_credential": "15",
                    "target_hours": "180"},
                   {"kind": "equivalency_hours", "label": "Master's equivalency"}, **options)


def test_equivalency_hours_add_up_to_completion() -> None:
    assert run(equivalency(), awards(11)) == []
    assert progress(equivalency(), awards(11), as_of=LATER) == (165, 180, "hours toward Master's equivalency")
    [entry] = run(equivalency(), awards(12))
    assert entry.key == "complete" and len(entry.award_ids) == 12
    assert progress(equivalency(), awards(14), as_of=LATER) == (180, 180, "hours toward Master's equivalency")


# -- options: validity window, growth plan, district approval ---------------------------------------------------

def test_an_award_older_than_the_validity_window_no_longer_counts() -> None:
    prog = mentor(validity_months=12, on_expiry="reverse")
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    assert len(run(prog, six, as_of=datetime(2026, 2, 28, tzinfo=UTC))) == 1
    assert run(prog, six, as_of=datetime(2026, 3, 1, 9, tzinfo=UTC)) == []  # the first one aged out


def test_an_outcome_reverses_when_an_award_leaves_the_validity_window_if_expiry_reverses() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    for treatment, expected in (("reverse", {}), ("keep", {"complete": ("granted", Decimal(1))})):
        prog = mentor(validity_months=12, on_expiry=treatment)
        ledger = run(prog, six)
        assert held(run(prog, six, ledger=ledger, as_of=datetime(2026, 3, 5, tzinfo=UTC))) == expected


def test_with_a_growth_plan_requirement_only_credentials_in_the_plan_count() -> None:
    prog = steps(requires_growth_plan=True)
    five = awards(5)
    assert run(prog, five, growth_plan=[a.credential_id for a in five[:4]]) == []
    ledger = run(prog, five, growth_plan=[a.credential_id for a in five])
    assert len(ledger) == 1
    [reversal] = run(prog, five, ledger=ledger, growth_plan=[a.credential_id for a in five[1:]])[1:]
    assert reversal.kind == "reverse" and "growth plan" in reversal.reason


def test_an_outcome_needing_district_approval_is_pending_until_approved() -> None:
    prog = steps(district="Pulaski County", requires_district_approval=True)
    ledger = run(prog, awards(5))
    assert ledger[0].pending and held(ledger) == {"step-1": ("pending", Decimal(1000))}
    assert run(prog, awards(5), ledger=ledger) == ledger  # still pending: nothing to add
    ledger.append(decide(prog, ledger, "step-1", approve=True, reason=""))
    assert held(ledger) == {"step-1": ("granted", Decimal(1000))}
    assert ledger[-1].kind == "approve" and ledger[-1].award_ids == ledger[0].award_ids


def test_a_declined_outcome_is_not_asked_for_again() -> None:
    prog = steps(district="Pulaski County", requires_district_approval=True)
    ledger = run(prog, awards(5))
    with pytest.raises(Invalid):
        decide(prog, ledger, "step-1", approve=False, reason=" ")
    ledger.append(decide(prog, ledger, "step-1", approve=False, reason="not on our schedule"))
    assert held(ledger) == {"step-1": ("declined", Decimal(0))}
    assert run(prog, awards(5), ledger=ledger) == ledger
    with pytest.raises(Conflict):
        decide(prog, ledger, "step-1", approve=True, reason="")


def test_only_a_pending_outcome_can_be_decided() -> None:
    ledger = run(steps(), awards(5))
    with pytest.raises(Conflict):
        decide(steps(), ledger, "step-1", approve=True, reason="")


# -- revocation, suspension, expiry: reverse or keep, and reinstatement ---------------------------------------

def removed(a: HeldAward, how: str, at: datetime) -> HeldAward:
    """The same award after a revocation, a suspension or an expiry at ``at``."""
    if how == "expiry":
        return replace(a, valid_until=at)
    return replace(a, standing="revoked" if how == "revocation" else "suspended", standing_since=at)


@pytest.mark.parametrize("cause", ["revocation", "suspension", "expiry"])
def test_a_designation_is_reversed_when_its_cause_reverses_and_kept_when_it_keeps(cause: str) -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    lost = [removed(six[0], cause, day(100)), *six[1:]]
    reversing = mentor(**{f"on_{cause}": "reverse"})
    ledger = run(reversing, six)
    [reversal] = run(reversing, lost, ledger=ledger)[1:]
    assert reversal.kind == "reverse" and reversal.key == "complete" and reversal.program_version == 1
    assert reversal.award_ids == ledger[0].award_ids and f"{six[0].award_id} lost to {cause}" in reversal.reason
    assert held([*ledger, reversal]) == {}
    keeping = mentor(**{f"on_{cause}": "keep"})
    ledger = run(keeping, six)
    assert run(keeping, lost, ledger=ledger) == ledger


@pytest.mark.parametrize("cause", ["revocation", "suspension", "expiry"])
def test_a_credential_lost_before_the_outcome_was_earned_never_earns_it_even_when_kept(cause: str) -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    lost_early = [removed(six[0], cause, day(2)), *six[1:]]  # gone before the sixth was issued on day 5
    assert run(mentor(**{f"on_{cause}": "keep"}), lost_early) == []


def test_an_outcome_reversed_at_a_suspension_is_granted_again_at_the_reinstatement() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    ledger = run(mentor(), six)
    ledger = run(mentor(), [removed(six[2], "suspension", day(50)), *six[:2], *six[3:]], ledger=ledger)
    assert held(ledger) == {}
    ledger = run(mentor(), six, ledger=ledger)  # reinstated: the award is active again
    assert [e.kind for e in ledger] == ["grant", "reverse", "grant"] and held(ledger) == {
        "complete": ("granted", Decimal(1))}


def test_a_revoked_credential_takes_back_the_last_step_not_the_first() -> None:
    ten = awards(10)
    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    ledger = run(steps(), ten, as_of=as_of)
    ledger = run(steps(), [removed(ten[3], "revocation", day(300)), *ten[:3], *ten[4:]], ledger=ledger, as_of=as_of)
    assert held(ledger) == {"step-1": ("granted", Decimal(1000))} and ledger[-1].key == "step-2"


def test_a_kept_step_still_counts_toward_the_years_cap_and_the_next_step() -> None:
    prog = steps(on_revocation="keep")
    ten = awards(10)
    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    ledger = run(prog, ten, as_of=as_of)
    after = run(prog, [removed(ten[0], "revocation", day(300)), *ten[1:]], ledger=ledger, as_of=as_of)
    assert after == ledger  # both steps were earned while the revoked credential lived


def test_a_paid_incentive_is_not_clawed_back_when_the_program_keeps_it() -> None:
    four = awards(4)
    lost = [removed(four[0], "revocation", day(60)), removed(four[1], "revocation", day(60)), *four[2:]]
    kept = incentive(on_revocation="keep")
    ledger = run(kept, four)
    assert run(kept, lost, ledger=ledger) == ledger
    reversing = incentive(on_revocation="reverse")
    ledger = run(reversing, four)
    [reversal] = run(reversing, lost, ledger=ledger)[1:]
    assert (reversal.kind, reversal.amount) == ("reverse", Decimal(500))  # 1500 capped -> 1000 for two
    assert reversal.award_ids == (four[0].award_id, four[1].award_id)  # the two revoked, not all four
    assert held([*ledger, reversal]) == {"year-2025": ("granted", Decimal(1000))}


def test_a_suspended_credentials_incentive_returns_at_its_reinstatement() -> None:
    two = awards(2)
    ledger = run(incentive(), two)
    ledger = run(incentive(), [removed(two[1], "suspension", day(40)), two[0]], ledger=ledger)
    ledger = run(incentive(), two, ledger=ledger)
    assert [(e.kind, e.amount) for e in ledger] == [("grant", Decimal(1000)), ("reverse", Decimal(500)),
                                                     ("grant", Decimal(500))]


def test_a_revocation_after_as_of_has_not_happened_yet() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    assert len(run(mentor(), [removed(six[0], "revocation", day(400)), *six[1:]])) == 1


def test_progress_leaves_out_a_lost_credential_even_where_the_outcome_is_kept() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    lost = [removed(six[0], "revocation", day(100)), *six[1:]]
    assert progress(mentor(on_revocation="keep"), lost, memberships=MEMBERS, as_of=LATER) == (
        5, 6, "for Mentor Teacher")


# -- idempotence and the program's own dates --------------------------------------------------------------------

def test_evaluating_again_on_the_same_facts_adds_nothing() -> None:
    for prog, facts in ((mentor(), [award(c, day(i)) for i, c in enumerate(SIX)]), (steps(), awards(10)),
                        (incentive(), awards(4)), (equivalency(), awards(12))):
        ledger = run(prog, facts)
        assert ledger and run(prog, facts, ledger=ledger) == ledger


def test_a_program_not_in_force_neither_grants_nor_takes_back() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    ended = mentor(effective_to="2025-06-30")
    assert run(ended, six, as_of=datetime(2025, 7, 1, tzinfo=UTC)) == []
    ledger = run(ended, six, as_of=datetime(2025, 6, 30, tzinfo=UTC))
    assert run(ended, six[1:], ledger=ledger, as_of=datetime(2025, 7, 1, tzinfo=UTC)) == ledger


def test_entries_of_another_program_are_not_this_programs_outcomes() -> None:
    six = [award(c, day(i)) for i, c in enumerate(SIX)]
    other = run(mentor(program_id="OTHER"), six)
    assert [e.program_id for e in run(mentor(), six, ledger=other)] == ["OTHER", "P"]


def test_a_new_version_keeps_what_the_ledger_holds_and_reverses_what_it_no_longer_gives() -> None:
    five = awards(5)
    ledger = run(steps(), five)
    assert run(steps(version=2), five, ledger=ledger) == ledger
    stricter = steps(version=2, rule={"count": 6})
    [reversal] = run(stricter, five, ledger=ledger)[1:]
    assert reversal.program_version == 2 and "no longer qualifies under Test program version 2" in reversal.reason


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(mentor(), [], as_of=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        award(1, datetime(2025, 1, 1))
