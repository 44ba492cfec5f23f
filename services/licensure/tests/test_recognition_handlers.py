"""The recognition use cases as the consumers drive them: awards, revocations, suspensions, reinstatements and
stack changes re-evaluate the teacher's programs, append to the ledger and publish its grants and reversals,
once each, in any delivery order. A stack or pathway change enqueues its holders for review; ``drain`` runs
the review queue as licensure's periodic task does."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from microcred.events import CredentialAwarded, PathwayChanged, RecognitionGranted, RecognitionReversed, StackChanged
from microcred.licensure.adapters.program_files import load_programs, shipped_programs
from microcred.licensure.domain.recognition import Program
from microcred.licensure.service_layer.handlers import (
    post_credits,
    record_collection,
    record_revocation,
    record_status_change,
)
from microcred.licensure.service_layer.recognition_reviews import review_due

STACK = uuid4()
PATHWAY = uuid4()


def mentor(state: str = "TN", *, stack: UUID = STACK, district: str | None = None, **terms: Any) -> Program:
    return Program.model_validate({
        "program_id": f"{state}-MENTOR", "version": 1, "state": state, "district": district,
        "name": "Mentor Teacher designation", "effective_from": "2024-07-01",
        "outcome": {"kind": "designation", "label": "Mentor Teacher"},
        "rule": {"kind": "complete_stack", "stack_id": str(stack)}, **terms,
    })


def stack_changed(credentials: list[UUID], revision: int = 1, active: bool = True) -> StackChanged:
    return StackChanged(correlation_id=uuid4(), stack_id=STACK, revision=revision, issuer_id=uuid4(),
                        name="Mentor Teacher", description="six", credential_ids=tuple(credentials), active=active)


def granted(uow: Any) -> list[RecognitionGranted]:
    return [e for e in uow.published if isinstance(e, RecognitionGranted)]


def reversed_(uow: Any) -> list[RecognitionReversed]:
    return [e for e in uow.published if isinstance(e, RecognitionReversed)]


async def drain(uow: Any, programs: list[Program]) -> int:
    """Review every teacher due now, in batches of two (so a batch boundary is crossed), as the task would."""
    taken = total = 2
    while taken == 2:
        taken = await review_due(uow, programs, limit=2)
        total += taken
    return total - 2


async def earn(uow: Any, build: Any, credentials: list[UUID], programs: list[Program],
               teacher: str = "teacher-42") -> list[CredentialAwarded]:
    events = []
    for credential_id in credentials:
        awarded = build.awarded(teacher_id=teacher).model_copy(update={"credential_id": credential_id})
        await post_credits(awarded, uow, programs)
        events.append(awarded)
    return events


async def test_the_sixth_credential_of_the_stack_grants_the_designation_once(uow: Any, build: Any) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [mentor()]
    await uow.licenses.add_once(build.license(state="TN"))
    await record_collection(stack_changed(six), uow, programs)
    awards = await earn(uow, build, six[:5], programs)
    assert granted(uow) == []
    awards += await earn(uow, build, six[5:], programs)
    [grant] = granted(uow)
    assert (grant.program_id, grant.program_version, grant.state, grant.key) == ("TN-MENTOR", 1, "TN", "complete")
    assert (grant.outcome_kind, grant.outcome_label, grant.teacher_id) == ("designation", "Mentor Teacher",
                                                                           "teacher-42")
    assert set(grant.award_ids) == {a.award_id for a in awards}
    assert grant.causation_id == awards[-1].event_id and not grant.pending
    assert [r.entry.kind for r in uow.recognitions.rows] == ["grant"]
    assert uow.recognitions.rows[0].entry_id == grant.entry_id

    # A redelivery, and the same award under a new event id, change nothing.
    await post_credits(awards[-1], uow, programs)
    await post_credits(awards[-1].model_copy(update={"event_id": uuid4()}), uow, programs)
    assert len(granted(uow)) == 1 and len(uow.recognitions.rows) == 1


async def test_a_revocation_reverses_the_designation_and_a_redelivery_does_not_again(uow: Any, build: Any) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [mentor()]
    await uow.licenses.add_once(build.license(state="TN"))
    await record_collection(stack_changed(six), uow, programs)
    awards = await earn(uow, build, six, programs)
    revoked = build.revoked(awards[2])
    await record_revocation(revoked, uow, programs)
    [reversal] = reversed_(uow)
    assert reversal.key == "complete" and awards[2].award_id in reversal.award_ids
    assert str(awards[2].award_id) in reversal.reason and reversal.causation_id == revoked.event_id
    await record_revocation(revoked, uow, programs)
    await record_revocation(revoked.model_copy(update={"event_id": uuid4()}), uow, programs)
    assert len(reversed_(uow)) == 1
    assert [r.entry.kind for r in uow.recognitions.rows] == ["grant", "reverse"]


async def test_a_suspension_reverses_and_the_reinstatement_grants_again(uow: Any, build: Any) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [mentor()]
    await uow.licenses.add_once(build.license(state="TN"))
    await record_collection(stack_changed(six), uow, programs)
    awards = await earn(uow, build, six, programs)
    await record_status_change(build.suspended(awards[0]), uow, programs)
    assert len(reversed_(uow)) == 1
    await record_status_change(build.reinstated(awards[0]), uow, programs)
    assert len(granted(uow)) == 2
    assert [r.entry.kind for r in uow.recognitions.rows] == ["grant", "reverse", "grant"]


async def test_the_stack_arriving_after_the_awards_grants_then(uow: Any, build: Any) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [mentor()]
    await uow.licenses.add_once(build.license(state="TN"))
    await earn(uow, build, six, programs)
    assert granted(uow) == []  # the stack's credentials are unknown yet: nothing can be judged
    event = stack_changed(six)
    await record_collection(event, uow, programs)
    assert granted(uow) == []  # enqueued, not re-evaluated in the stack's own transaction
    assert await drain(uow, programs) == 1
    [grant] = granted(uow)
    assert grant.causation_id is None and not grant.pending
    await record_collection(event, uow, programs)
    assert await drain(uow, programs) == 0 and len(granted(uow)) == 1


async def test_a_later_revision_adding_a_credential_reverses_and_an_older_one_is_ignored(uow: Any, build: Any
                                                                                       ) -> None:
    six, seventh = [uuid4() for _ in range(6)], uuid4()
    programs = [mentor()]
    await uow.licenses.add_once(build.license(state="TN"))
    await record_collection(stack_changed(six, revision=2), uow, programs)
    await earn(uow, build, six, programs)
    assert len(granted(uow)) == 1
    await record_collection(stack_changed(six[:3], revision=1), uow, programs)  # stale: changes nothing
    assert reversed_(uow) == []
    await record_collection(stack_changed([*six, seventh], revision=3), uow, programs)
    await drain(uow, programs)
    [reversal] = reversed_(uow)
    assert reversal.key == "complete"


async def test_programs_of_other_states_and_districts_do_not_apply(uow: Any, build: Any) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [mentor("LA"), mentor("TN", district="Other County")]
    await uow.licenses.add_once(build.license(state="TN", district="Knox County"))
    await record_collection(stack_changed(six), uow, programs)
    await earn(uow, build, six, programs)
    assert granted(uow) == [] and uow.recognitions.rows == []


async def test_a_district_program_applies_to_its_districts_teachers_pending_its_approval(uow: Any, build: Any
                                                                                       ) -> None:
    six = [uuid4() for _ in range(6)]
    programs = [mentor("TN", district="Knox County", requires_district_approval=True)]
    await uow.licenses.add_once(build.license(state="TN", district="Knox County"))
    await record_collection(stack_changed(six), uow, programs)
    await earn(uow, build, six, programs)
    [grant] = granted(uow)
    assert grant.pending and grant.district == "Knox County"


async def test_a_pathway_is_kept_as_its_steps_credentials(uow: Any, build: Any) -> None:
    three = [uuid4() for _ in range(3)]
    program = Program.model_validate({
        "program_id": "TN-PATH", "version": 1, "state": "TN", "name": "Pathway", "effective_from": str(date(2024, 1, 1)),
        "outcome": {"kind": "designation", "label": "Pathway complete"},
        "rule": {"kind": "complete_pathway", "pathway_id": str(PATHWAY)},
    })
    await uow.licenses.add_once(build.license(state="TN"))
    await earn(uow, build, three, [program])
    await record_collection(PathwayChanged(
        correlation_id=uuid4(), pathway_id=PATHWAY, revision=1, issuer_id=uuid4(), name="P", description="d",
        steps=tuple({"credential_id": c} for c in three),  # type: ignore[arg-type]
    ), uow, [program])
    await drain(uow, [program])
    assert [g.key for g in granted(uow)] == ["complete"]



def test_a_deployments_program_folder_adds_to_the_shipped_programs_and_may_not_redefine_one(tmp_path: Path) -> None:
    extra = {"program_id": "TN-EXTRA", "state": "TN", "agency": "Tennessee", "confirm_with_agency": True,
             "note": "test", "versions": [{"version": 1, "name": "Extra", "effective_from": "2024-07-01",
                                           "outcome": {"kind": "designation", "label": "Extra"},
                                           "rule": {"kind": "complete_stack", "stack_id": str(STACK)}}]}
    (tmp_path / "TN-extra.json").write_text(json.dumps(extra))
    loaded = load_programs(tmp_path)
    assert len(loaded) == len(shipped_programs()) + 1 and loaded[-1].program_id == "TN-EXTRA"
    shipped = resources.files("microcred.licensure").joinpath("programs", "LA-mentor-teacher.json")
    (tmp_path / "again.json").write_text(shipped.read_text("utf-8"))
    with pytest.raises(ValueError, match="LA-MENTOR-TEACHER version 1 is defined twice"):
        load_programs(tmp_path)
