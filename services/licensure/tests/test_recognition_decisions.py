"""A district's decisions on recognitions waiting for it: who sees the pending list and who may decide, and
what an approval and a decline append and publish (the sample Pulaski County salary schedule, whose lane
step needs the district's approval)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from microcred.events import RecognitionGranted, RecognitionReversed
from microcred.licensure.adapters.program_files import shipped_programs
from microcred.licensure.domain.recognition import holdings
from microcred.licensure.service_layer.handlers import post_credits
from microcred.licensure.service_layer.recognition_decisions import (
    RecognitionDecision,
    decide_recognition,
    pending_recognitions,
)
from microcred.runtime.auth import Principal, Role
from microcred.runtime.errors import Conflict, Forbidden, NotFound

PROGRAMS = shipped_programs()
LANE = "AR-PULASKI-LANE-STEPS"


def person(role: Role, subject: str = "someone", states: tuple[str, ...] = ("AR",), district: str | None = None
           ) -> Principal:
    return Principal(subject=subject, roles=frozenset({role}), states=states, district=district)


PULASKI = person(Role.DISTRICT_ADMIN, "pulaski-admin", district="Pulaski County")
OTHER_DISTRICT = person(Role.DISTRICT_ADMIN, "benton-admin", district="Benton County")
AR_ADMIN = person(Role.STATE_ADMIN, "ar-admin")
TN_ADMIN = person(Role.STATE_ADMIN, "tn-admin", states=("TN",))
OPERATOR = person(Role.OPERATOR, "operator", states=())
TEACHER = person(Role.TEACHER, "teacher-42")


async def pending_step(uow: Any, build: Any, teacher: str = "teacher-42") -> list[Any]:
    """Five credentials this year for a Pulaski County teacher: the lane step, pending the district."""
    await uow.licenses.add_once(build.license(teacher_id=teacher, state="AR", district="Pulaski County",
                                              license_number=f"AR-{teacher}"))
    issued = datetime.now(UTC) - timedelta(hours=1)
    awards = []
    for _ in range(5):
        awarded = build.awarded(teacher_id=teacher, issued_at=issued).model_copy(update={"credential_id": uuid4()})
        await post_credits(awarded, uow, PROGRAMS)
        awards.append(awarded)
    [grant] = [e for e in uow.published if isinstance(e, RecognitionGranted) and e.teacher_id == teacher]
    assert grant.pending and grant.program_id == LANE
    return awards


def decision(approve: bool, reason: str = "", teacher: str = "teacher-42", key: str = "step-1"
             ) -> RecognitionDecision:
    return RecognitionDecision(teacher_id=teacher, program_id=LANE, key=key, approve=approve, reason=reason)


async def test_the_district_admin_lists_its_pending_step_with_what_it_rests_on(uow: Any, build: Any) -> None:
    awards = await pending_step(uow, build)
    [pending] = await pending_recognitions("AR", None, PULASKI, uow, PROGRAMS, limit=50, offset=0)
    assert (pending.teacher_id, pending.license_numbers, pending.key, pending.year) == \
        ("teacher-42", ("AR-teacher-42",), "step-1", datetime.now(UTC).year)
    assert (pending.program.program_id, pending.program.version, pending.program.outcome.label) == (LANE, 1,
                                                                                                  "Lane step")
    assert pending.amount == 1000 and {a.award_id for a in pending.awards} == {str(a.award_id) for a in awards}
    assert {a.credential_name for a in pending.awards} == {"Checking for Understanding"}
    assert pending.since <= datetime.now(UTC)
    # Another district's admin is held to their own district, whatever they ask; the state sees any.
    assert await pending_recognitions("AR", "Pulaski County", OTHER_DISTRICT, uow, PROGRAMS, limit=50, offset=0) == []
    assert len(await pending_recognitions("AR", "Pulaski County", AR_ADMIN, uow, PROGRAMS, limit=50, offset=0)) == 1
    assert await pending_recognitions("AR", "Benton County", AR_ADMIN, uow, PROGRAMS, limit=50, offset=0) == []
    assert len(await pending_recognitions("AR", None, OPERATOR, uow, PROGRAMS, limit=50, offset=0)) == 1
    assert await pending_recognitions("AR", None, OPERATOR, uow, PROGRAMS, limit=50, offset=1) == []
    for outsider in (TEACHER, TN_ADMIN):
        with pytest.raises(Forbidden):
            await pending_recognitions("AR", None, outsider, uow, PROGRAMS, limit=50, offset=0)


async def test_an_approval_grants_for_good_and_is_published_not_pending(uow: Any, build: Any) -> None:
    await pending_step(uow, build)
    entry = await decide_recognition(decision(True), PULASKI, uow, PROGRAMS)
    assert entry.kind == "approve" and "pulaski-admin" in entry.reason
    [approval] = [e for e in uow.published if isinstance(e, RecognitionGranted) and not e.pending]
    assert (approval.key, approval.program_id, approval.amount, approval.district) == ("step-1", LANE, 1000,
                                                                                       "Pulaski County")
    assert approval.entry_id == uow.recognitions.rows[-1].entry_id
    held = holdings(await uow.recognitions.of_teacher("teacher-42"))
    assert held["step-1"].status == "granted"
    assert await pending_recognitions("AR", None, PULASKI, uow, PROGRAMS, limit=50, offset=0) == []
    with pytest.raises(Conflict):  # decided already
        await decide_recognition(decision(True), PULASKI, uow, PROGRAMS)


async def test_a_decline_needs_a_reason_takes_the_step_back_and_is_not_asked_again(uow: Any, build: Any) -> None:
    await pending_step(uow, build)
    with pytest.raises(ValidationError, match="a decline needs a reason"):
        decision(False, "   ")
    entry = await decide_recognition(decision(False, "the credentials predate the teacher's hire"), AR_ADMIN, uow,
                                     PROGRAMS)
    assert entry.kind == "decline"
    [reversal] = [e for e in uow.published if isinstance(e, RecognitionReversed)]
    assert "predate the teacher's hire" in reversal.reason and not reversal.pending and reversal.key == "step-1"
    # A later award re-evaluates the teacher: the declined step is not granted (nor asked) again.
    await post_credits(build.awarded(issued_at=datetime.now(UTC)), uow, PROGRAMS)
    assert len([e for e in uow.published if isinstance(e, RecognitionGranted)]) == 1
    assert await pending_recognitions("AR", None, PULASKI, uow, PROGRAMS, limit=50, offset=0) == []


async def test_only_the_district_its_state_or_an_operator_decides(uow: Any, build: Any) -> None:
    await pending_step(uow, build)
    for outsider in (OTHER_DISTRICT, TN_ADMIN, person(Role.TEACHER, "teacher-7")):
        with pytest.raises(NotFound):  # not theirs to know of
            await decide_recognition(decision(True), outsider, uow, PROGRAMS)
    with pytest.raises(Forbidden):  # the teacher sees their own recognitions, but does not decide them
        await decide_recognition(decision(True), TEACHER, uow, PROGRAMS)
    with pytest.raises(NotFound):
        await decide_recognition(decision(True, key="step-9"), PULASKI, uow, PROGRAMS)
    assert [r.entry.kind for r in uow.recognitions.rows] == ["grant"]
    await decide_recognition(decision(True), OPERATOR, uow, PROGRAMS)
    assert [r.entry.kind for r in uow.recognitions.rows] == ["grant", "approve"]
