"""Pathway prerequisites must come from earlier steps, which keeps every pathway walkable in order."""

from __future__ import annotations

from uuid import uuid4

import pytest

from microcred.catalog.domain.model import Pathway, Stack, Step
from microcred.runtime.errors import Invalid

A, B, C = uuid4(), uuid4(), uuid4()


def pathway(*steps: Step) -> Pathway:
    return Pathway(uuid4(), uuid4(), "mentor-teacher", "Mentor teacher", "", steps)


def test_a_prerequisite_from_an_earlier_step_is_accepted() -> None:
    found = pathway(Step(A), Step(B, (A,)), Step(C, (A, B)))
    assert [s.credential_id for s in found.steps] == [A, B, C]


def test_a_prerequisite_from_a_later_step_is_refused_with_its_location() -> None:
    with pytest.raises(Invalid) as refused:
        pathway(Step(A, (B,)), Step(B))
    assert refused.value.code == "invalid_pathway"
    details: list[dict[str, str]] = refused.value.details  # type: ignore[assignment]
    assert [d["location"] for d in details] == ["steps[0]"]
    assert "earlier step" in refused.value.message


def test_a_prerequisite_outside_the_pathway_is_refused() -> None:
    with pytest.raises(Invalid):
        pathway(Step(A), Step(B, (C,)))


def test_a_credential_cannot_be_its_own_prerequisite_or_appear_twice() -> None:
    with pytest.raises(Invalid):
        pathway(Step(A, (A,)))
    with pytest.raises(Invalid):
        pathway(Step(A), Step(A))


def test_revising_a_pathway_bumps_its_revision_only_when_something_changed() -> None:
    found = pathway(Step(A), Step(B, (A,)))
    assert not found.revise(found.name, found.description, found.steps)
    assert found.revise(found.name, found.description, (Step(A),))
    assert found.revision == 2
    with pytest.raises(Invalid):
        found.revise(found.name, found.description, (Step(B, (A,)), Step(A)))
    assert found.revision == 2 and found.steps == (Step(A),)


def test_deactivating_a_stack_is_a_new_revision_and_happens_once() -> None:
    stack = Stack(uuid4(), uuid4(), "formative", "Formative", "", (A, B))
    assert stack.deactivate() and not stack.deactivate()
    assert (stack.revision, stack.active) == (2, False)
