"""Recognition evaluation does not depend on the order events arrive in, nor on duplicates.

Each scenario is a teacher's events (awards, suspensions, reinstatements, revocations, expiries on their own
clock). They are delivered in many shuffled orders, some twice; the facts are rebuilt after each delivery the
way licensure keeps them (a status change may arrive before its award) and the program evaluated. Every
order must end with the ledger holding exactly what one evaluation of all the facts gives.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

import pytest

from microcred.licensure.domain.recognition import (
    HeldAward,
    Memberships,
    Program,
    RecognitionEntry,
    evaluate,
    holdings,
)

T0 = datetime(2025, 2, 1, tzinfo=UTC)
STACK = UUID(int=1000)
MEMBERS = Memberships(stacks={STACK: frozenset(UUID(int=i) for i in range(1, 7))})


@dataclass(frozen=True)
class Awarded:
    award: HeldAward


@dataclass(frozen=True)
class Changed:
    award_id: UUID
    status: Literal["suspended", "reinstated", "revoked"]
    at: datetime


Event = Awarded | Changed


def facts(delivered: Sequence[Event]) -> list[HeldAward]:
    """The awards as licensure knows them after these deliveries: a revocation is final, else the latest
    change decides (the domain's ``standing`` rule); a change of an award not yet arrived waits for it."""
    awards = {e.award.award_id: e.award for e in delivered if isinstance(e, Awarded)}
    changes: dict[UUID, list[Changed]] = {}
    for e in delivered:
        if isinstance(e, Changed):
            changes.setdefault(e.award_id, []).append(e)
    held = []
    for award_id, a in awards.items():
        decisive = max(changes.get(award_id, []), key=lambda c: (c.status == "revoked", c.at), default=None)
        if decisive is None or decisive.status == "reinstated":
            held.append(a)
        else:
            held.append(replace(a, standing=decisive.status, standing_since=decisive.at))
    return held


def deliver(prog: Program, events: Sequence[Event], as_of: datetime) -> list[RecognitionEntry]:
    ledger: list[RecognitionEntry] = []
    for i in range(len(events)):
        ledger += evaluate(prog, facts(events[: i + 1]), memberships=MEMBERS, as_of=as_of, already=ledger)
    return ledger


def held(ledger: Sequence[RecognitionEntry]) -> dict[str, tuple[str, Decimal]]:
    return {key: (h.status, h.net) for key, h in holdings(ledger).items()}


def program(rule: dict[str, Any], outcome: dict[str, Any], **options: Any) -> Program:
    return Program.model_validate({"program_id": "P", "version": 1, "state": "AR", "name": "Order",
                                   "effective_from": date(2024, 1, 1), "outcome": outcome, "rule": rule, **options})


def awarded(credential: int, days: int, **kw: Any) -> Awarded:
    return Awarded(HeldAward(uuid4(), UUID(int=credential), T0 + timedelta(days=days), **kw))


def change(event: Awarded, status: Literal["suspended", "reinstated", "revoked"], days: int) -> Changed:
    return Changed(event.award.award_id, status, T0 + timedelta(days=days))


def mentor_story() -> list[Event]:
    six = [awarded(c, c * 3) for c in range(1, 7)]
    return [*six, change(six[1], "suspended", 40), change(six[1], "reinstated", 55), change(six[4], "revoked", 90)]


def steps_story() -> list[Event]:
    twelve = [awarded(c, c * 20) for c in range(1, 13)]  # all in 2025; the thirteenth in 2026
    return [*twelve, change(twelve[2], "suspended", 200), change(twelve[9], "revoked", 420),
            awarded(13, 430), change(twelve[2], "reinstated", 440)]


def incentive_story() -> list[Event]:
    five = [awarded(c, c * 70) for c in range(1, 6)]  # program years 2024, 2025 and 2026
    return [*five, change(five[0], "revoked", 500), change(five[3], "suspended", 520)]


def equivalency_story() -> list[Event]:
    expiring = T0 + timedelta(days=300)
    thirteen = [awarded(c, c * 10, valid_until=expiring if c in (3, 5) else None) for c in range(1, 14)]
    return [*thirteen, awarded(3, 320)]  # credential 3 earned again after its first award expired


STEPS = {"kind": "salary_step", "label": "Lane step", "amount": "1000", "unit": "USD"}
SCENARIOS = {
    "mentor, revocation reverses": (
        program({"kind": "complete_stack", "stack_id": str(STACK)}, {"kind": "designation", "label": "Mentor"}),
        mentor_story),
    "mentor, revocation kept": (
        program({"kind": "complete_stack", "stack_id": str(STACK)}, {"kind": "designation", "label": "Mentor"},
                on_revocation="keep", on_suspension="keep"), mentor_story),
    "steps, one a year": (
        program({"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 3, "max_per_year": 1},
                STEPS), steps_story),
    "steps, suspension kept, revocation kept": (
        program({"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 3, "max_per_year": 2},
                STEPS, on_suspension="keep", on_revocation="keep"), steps_story),
    "incentive, capped by program year": (
        program({"kind": "incentive_per_credential", "from_set": {"any_credential": True}, "cap_per_year": "700",
                 "year": "program"}, {"kind": "incentive", "label": "Bonus", "amount": "400", "unit": "USD"},
                on_revocation="keep"), incentive_story),
    "equivalency, expiry reverses": (
        program({"kind": "equivalency_hours", "from_set": {"any_credential": True}, "hours_per_credential": "15",
                 "target_hours": "180"}, {"kind": "equivalency_hours", "label": "Master's"}, on_expiry="reverse"),
        equivalency_story),
}
AS_OF = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_delivery_order_with_duplicates_ends_holding_what_the_facts_give(name: str) -> None:
    prog, story = SCENARIOS[name]
    events = story()
    expected = held(evaluate(prog, facts(events), memberships=MEMBERS, as_of=AS_OF))
    chance = random.Random(name)
    for _ in range(40):
        shuffled = chance.sample(events, len(events))
        for _ in range(3):  # some events delivered twice, anywhere after their first delivery
            i = chance.randrange(len(shuffled))
            shuffled.insert(chance.randrange(i, len(shuffled)) + 1, shuffled[i])
        assert held(deliver(prog, shuffled, AS_OF)) == expected, shuffled


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_duplicate_delivery_adds_nothing_to_the_ledger(name: str) -> None:
    prog, story = SCENARIOS[name]
    events = story()
    for i in range(len(events)):
        ledger = deliver(prog, events[: i + 1], AS_OF)
        again = evaluate(prog, facts([*events[: i + 1], events[i]]), memberships=MEMBERS, as_of=AS_OF,
                         already=ledger)
        assert again == []


def test_the_scenarios_end_with_the_outcomes_their_rules_give() -> None:
    """Guard on the scenarios themselves, so the order tests compare something worth comparing."""
    step, no = ("granted", Decimal(1000)), {}
    expected = {
        "mentor, revocation reverses": no,  # the fifth credential was revoked
        "mentor, revocation kept": {"complete": ("granted", Decimal(1))},
        # twelve count (one revoked, one reinstated): four steps earned, one a year, 2027's not yet due
        "steps, one a year": {"step-1": step, "step-2": step},
        # all thirteen count until the revocation: four steps earned in 2025, two a year
        "steps, suspension kept, revocation kept": {"step-1": step, "step-2": step, "step-3": step, "step-4": step},
        # 400 each, 700 a program year: two in 2024-25, two counting in 2025-26 (one suspended)
        "incentive, capped by program year": {"year-2024": ("granted", Decimal(700)),
                                              "year-2025": ("granted", Decimal(700))},
        # two expired, one of them earned again: twelve credentials, 180 hours
        "equivalency, expiry reverses": {"complete": ("granted", Decimal(1))},
    }
    for name, (prog, story) in SCENARIOS.items():
        assert held(evaluate(prog, facts(story()), memberships=MEMBERS, as_of=AS_OF)) == expected[name], name


def test_delivered_in_order_the_mentor_story_grants_reverses_grants_again_and_reverses() -> None:
    prog, story = SCENARIOS["mentor, revocation reverses"]
    assert [e.kind for e in deliver(prog, story(), AS_OF)] == ["grant", "reverse", "grant", "reverse"]
