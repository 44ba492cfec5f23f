"""The recognition review queue: when time alone may next change a teacher's standing (the domain's
``next_change``), and the facts that re-evaluate a teacher beyond awards and status changes (a license
registered, a growth plan changed, an expiry, a validity window, a capped step's next year, a stack change
drained in bounded batches)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from microcred.events import CredentialAwarded, RecognitionGranted, RecognitionReversed, StackChanged
from microcred.licensure.domain.recognition import HeldAward, Memberships, Program, next_change
from microcred.licensure.service_layer import recognitions
from microcred.licensure.service_layer.handlers import (
    GrowthPlan,
    RegisterLicense,
    post_credits,
    record_collection,
    register_license,
    set_growth_plan,
)
from microcred.licensure.service_layer.recognition_reviews import review_due, review_each
from microcred.runtime.auth import Principal, Role

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
# The consumers evaluate on the wall clock, so the use case tests date their facts from it.
TODAY = datetime.now(UTC).replace(microsecond=0)
STACK = uuid4()


def program(rule: dict[str, Any], outcome: dict[str, Any] | None = None, **terms: Any) -> Program:
    return Program.model_validate({
        "program_id": "TN-P", "version": 1, "state": "TN", "name": "P", "effective_from": "2024-01-01",
        "outcome": outcome or {"kind": "designation", "label": "Designated"}, "rule": rule, **terms,
    })


def stack_rule(stack: UUID = STACK) -> dict[str, Any]:
    return {"kind": "complete_stack", "stack_id": str(stack)}


def award(issued: datetime, credential: UUID | None = None, **fields: Any) -> HeldAward:
    return HeldAward(uuid4(), credential or uuid4(), issued, **fields)


def granted(uow: Any) -> list[RecognitionGranted]:
    return [e for e in uow.published if isinstance(e, RecognitionGranted)]


def reversed_(uow: Any) -> list[RecognitionReversed]:
    return [e for e in uow.published if isinstance(e, RecognitionReversed)]


# -- when time may next change a teacher's standing -------------------------------------------------------------


def test_nothing_changes_by_time_without_expiries_windows_or_dates_ahead() -> None:
    held = [award(NOW - timedelta(days=30))]
    assert next_change(program(stack_rule()), held, as_of=NOW) is None


def test_the_next_award_expiry_is_the_next_change() -> None:
    soon, later = NOW + timedelta(days=3), NOW + timedelta(days=90)
    held = [award(NOW - timedelta(days=30), valid_until=later), award(NOW - timedelta(days=9), valid_until=soon),
            award(NOW - timedelta(days=400), valid_until=NOW - timedelta(days=1))]  # already past: no edge
    assert next_change(program(stack_rule()), held, as_of=NOW) == soon


def test_a_validity_window_ages_an_award_out_on_its_issue_day_months_later() -> None:
    issued = datetime(2025, 6, 15, 9, tzinfo=UTC)
    assert next_change(program(stack_rule(), validity_months=12), [award(issued)], as_of=NOW) == \
        datetime(2026, 6, 15, 9, tzinfo=UTC)
    assert next_change(program(stack_rule()), [award(issued)], as_of=NOW) is None


def test_a_program_coming_into_force_or_ending_is_a_change() -> None:
    ahead = program(stack_rule(), effective_from="2026-09-01")
    assert next_change(ahead, [], as_of=NOW) == datetime(2026, 9, 1, tzinfo=UTC)
    ending = program(stack_rule(), effective_to="2026-06-30")
    assert next_change(ending, [], as_of=NOW) == datetime(2026, 7, 1, tzinfo=UTC)  # the day after its last


def test_a_step_held_back_by_the_yearly_cap_is_due_at_the_next_year() -> None:
    rule = {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 2, "max_per_year": 1}
    steps = program(rule, {"kind": "salary_step", "label": "Step"})
    four = [award(NOW - timedelta(days=d)) for d in (10, 9, 8, 7)]  # two steps' worth, one a year
    assert next_change(steps, four, as_of=NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_change(steps, four[:3], as_of=NOW) is None  # one step, and it is held this year
    by_program_year = program({**rule, "year": "program"}, {"kind": "salary_step", "label": "Step"})
    assert next_change(by_program_year, four, as_of=NOW) == datetime(2026, 7, 1, tzinfo=UTC)


def test_a_membership_is_used_to_judge_the_capped_steps_of_a_stack() -> None:
    members = [uuid4() for _ in range(4)]
    rule = {"kind": "count_from_set", "from_set": {"stacks": [str(STACK)]}, "count": 2, "max_per_year": 1}
    steps = program(rule, {"kind": "salary_step", "label": "Step"})
    four = [award(NOW - timedelta(days=d), c) for d, c in zip((10, 9, 8, 7), members, strict=True)]
    assert next_change(steps, four, as_of=NOW) is None  # the stack is unknown: nothing counts
    assert next_change(steps, four, memberships=Memberships(stacks={STACK: frozenset(members)}), as_of=NOW) == \
        datetime(2027, 1, 1, tzinfo=UTC)


# -- the facts and the queue, through the use cases ---------------------------------------------------------------


def stack_changed(credentials: list[UUID], revision: int = 1) -> StackChanged:
    return StackChanged(correlation_id=uuid4(), stack_id=STACK, revision=revision, issuer_id=uuid4(), name="S",
                        description="six", credential_ids=tuple(credentials), active=True)


async def earn(uow: Any, build: Any, credentials: list[UUID], programs: list[Program], teacher: str = "teacher-42",
               issued_at: datetime = TODAY - timedelta(days=20), **fields: Any) -> list[CredentialAwarded]:
    events = []
    for credential_id in credentials:
        awarded = build.awarded(teacher_id=teacher, issued_at=issued_at).model_copy(
            update={"credential_id": credential_id, **fields})
        await post_credits(awarded, uow, programs)
        events.append(awarded)
    return events


async def test_registering_a_license_after_earning_the_stack_designates_then(uow: Any, build: Any) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [program(stack_rule(), state="LA", program_id="LA-MENTOR")]
    await record_collection(stack_changed(six), uow, programs)
    await earn(uow, build, six, programs)
    assert granted(uow) == []  # no Louisiana license: the program is not the teacher's
    teacher = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}), states=("LA",))
    await register_license(RegisterLicense(state="LA", license_number="LA-1", license_type="Professional",
                                           cycle_start=date(2025, 7, 1), cycle_end=date(2030, 6, 30)),
                           teacher, uow, programs)
    [grant] = granted(uow)
    assert (grant.program_id, grant.key, grant.teacher_id) == ("LA-MENTOR", "complete", "teacher-42")


async def test_a_growth_plan_change_grants_and_takes_back_what_the_plan_decides(uow: Any, build: Any) -> None:
    rule = {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 2, "repeats": False}
    programs = [program(rule, requires_growth_plan=True)]
    license = build.license(state="TN")
    await uow.licenses.add_once(license)
    two = [uuid4(), uuid4()]
    await earn(uow, build, two, programs, issued_at=datetime(2025, 3, 4, tzinfo=UTC))
    assert granted(uow) == []  # neither credential is in the plan yet
    teacher = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}), states=("TN",))
    await set_growth_plan(license.license_id, GrowthPlan(credential_ids=two), teacher, uow, programs)
    assert [g.key for g in granted(uow)] == ["step-1"]
    await set_growth_plan(license.license_id, GrowthPlan(credential_ids=two[:1]), teacher, uow, programs)
    [reversal] = reversed_(uow)
    assert "no longer in the growth plan" in reversal.reason
    await set_growth_plan(license.license_id, GrowthPlan(credential_ids=two[:1]), teacher, uow, programs)
    assert len(reversed_(uow)) == 1 and len(granted(uow)) == 1  # the same plan again changes nothing


async def test_an_expiry_reverses_through_the_queue_not_the_credit_sweep(uow: Any, build: Any) -> None:
    # The credit expiry sweep works per credit decision; the queue re-evaluates the teacher on its own.
    six = [uuid4() for _ in range(6)]
    programs = [program(stack_rule(), on_expiry="reverse")]
    await uow.licenses.add_once(build.license(state="TN"))
    await record_collection(stack_changed(six), uow, programs)
    expires = TODAY + timedelta(days=10)
    await earn(uow, build, six[:5], programs)
    await earn(uow, build, six[5:], programs, valid_until=expires)
    assert len(granted(uow)) == 1
    assert uow.reviews.rows == {"teacher-42": expires}
    assert await review_due(uow, programs, now=expires - timedelta(seconds=1)) == 0  # not due yet
    assert await review_due(uow, programs, now=expires) == 1
    [reversal] = reversed_(uow)
    assert "lost to expiry" in reversal.reason and reversal.causation_id is None
    assert uow.reviews.rows == {}  # nothing else can change by time: the teacher leaves the queue
    assert await review_due(uow, programs, now=expires + timedelta(days=1)) == 0 and len(reversed_(uow)) == 1


async def test_a_validity_window_ages_the_outcome_out_when_due(uow: Any, build: Any) -> None:
    rule = {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 2, "repeats": False}
    programs = [program(rule, validity_months=12, on_expiry="reverse")]
    await uow.licenses.add_once(build.license(state="TN"))
    issued = TODAY - timedelta(days=100)
    await earn(uow, build, [uuid4(), uuid4()], programs, issued_at=issued)
    lapse = issued.replace(year=issued.year + 1)
    assert len(granted(uow)) == 1 and uow.reviews.rows == {"teacher-42": lapse}
    assert await review_due(uow, programs, now=lapse) == 1
    assert [r.key for r in reversed_(uow)] == ["step-1"]


async def test_a_step_over_the_yearly_cap_is_granted_by_the_queue_in_the_next_year(uow: Any, build: Any) -> None:
    rule = {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 2, "max_per_year": 1}
    programs = [program(rule, {"kind": "salary_step", "label": "Step", "amount": "1000", "unit": "USD"})]
    await uow.licenses.add_once(build.license(state="TN"))
    await earn(uow, build, [uuid4() for _ in range(4)], programs, issued_at=datetime(2026, 2, 1, tzinfo=UTC))
    # The awards were evaluated on today's clock; review them as of 2026 to see the cap at work.
    await review_due(uow, programs, now=datetime(2099, 1, 1, tzinfo=UTC))
    assert [g.key for g in granted(uow)] == ["step-1", "step-2"]


async def test_a_capped_step_waits_in_the_queue_for_the_new_year(uow: Any, build: Any) -> None:
    rule = {"kind": "count_from_set", "from_set": {"any_credential": True}, "count": 2, "max_per_year": 1}
    programs = [program(rule, {"kind": "salary_step", "label": "Step", "amount": "1000", "unit": "USD"})]
    await uow.licenses.add_once(build.license(state="TN"))
    uow.reviews.rows["teacher-42"] = datetime(2026, 2, 2, tzinfo=UTC)  # as if enqueued then
    await earn(uow, build, [uuid4() for _ in range(4)], [], issued_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert await review_due(uow, programs, now=datetime(2026, 2, 2, tzinfo=UTC)) == 1
    assert [g.key for g in granted(uow)] == ["step-1"]
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    assert uow.reviews.rows == {"teacher-42": new_year}
    assert await review_due(uow, programs, now=new_year) == 1
    assert [g.key for g in granted(uow)] == ["step-1", "step-2"] and granted(uow)[1].year == 2027


async def test_a_stack_change_commits_at_once_and_the_queue_drains_its_holders_in_batches(uow: Any, build: Any
                                                                                        ) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [program(stack_rule())]
    teachers = [f"teacher-{i}" for i in range(7)]
    for teacher in teachers:
        await uow.licenses.add_once(build.license(teacher_id=teacher, state="TN"))
        await earn(uow, build, six, programs, teacher=teacher)
    assert granted(uow) == []
    await record_collection(stack_changed(six), uow, programs)
    assert sorted(uow.reviews.rows) == teachers and granted(uow) == []
    batches = []
    while taken := await review_due(uow, programs, limit=3):
        batches.append(taken)
    assert batches == [3, 3, 1]
    assert sorted(g.teacher_id for g in granted(uow)) == teachers and uow.reviews.rows == {}
    # The same revision again, and a redelivery of any award, change nothing more.
    await record_collection(stack_changed(six), uow, programs)
    assert uow.reviews.rows == {}
    assert len(granted(uow)) == 7


async def test_a_teacher_without_programs_leaves_the_queue(uow: Any, build: Any) -> None:
    uow.reviews.rows["teacher-42"] = NOW
    assert await review_due(uow, [program(stack_rule(), state="LA")], now=NOW) == 1
    assert uow.reviews.rows == {}
    uow.reviews.rows["teacher-42"] = NOW
    assert await review_due(uow, [], now=NOW) == 1
    assert uow.reviews.rows == {}


async def test_a_teacher_whose_review_fails_is_set_aside_and_the_others_drain(
    uow: Any, build: Any, monkeypatch: Any,
) -> None:
    """One teacher's evaluation failing every time must not fail every batch they are in: reviewed one by one,
    the others are re-evaluated and the failing one waits ``retry_after``."""
    six = [uuid4() for _ in range(6)]
    programs = [program(stack_rule())]
    teachers = ["teacher-a", "teacher-b", "teacher-c"]
    for teacher in teachers:
        await uow.licenses.add_once(build.license(teacher_id=teacher, state="TN"))
        await earn(uow, build, six, programs, teacher=teacher)
    await record_collection(stack_changed(six), uow, programs)
    real = recognitions.reevaluate

    async def failing_for_b(uow_: Any, teacher_id: str, *args: Any, **kwargs: Any) -> Any:
        if teacher_id == "teacher-b":
            raise RuntimeError("facts the program did not foresee")
        return await real(uow_, teacher_id, *args, **kwargs)

    monkeypatch.setattr(recognitions, "reevaluate", failing_for_b)
    now = datetime.now(UTC)
    # (The batch as a whole raises; the fakes keep no rollback to show it, so the test starts where the service's
    # loop goes next.)
    assert await review_each(lambda: uow, programs, now=now, retry_after=timedelta(hours=1)) == 3
    assert sorted(g.teacher_id for g in granted(uow)) == ["teacher-a", "teacher-c"]
    assert uow.reviews.rows == {"teacher-b": now + timedelta(hours=1)}
    assert await review_due(uow, programs, now=now + timedelta(minutes=59)) == 0  # set aside, not retried at once
