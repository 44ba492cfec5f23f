"""Calibration end to end, on a platform where every submission is double-scored and reviewers who
disagree too much are flagged and get no new work."""

from __future__ import annotations

from typing import Any

import pytest

from microcred.devstack.client import read_events, wait_for

pytestmark = pytest.mark.stack

PROFICIENT = {"overview": "proficient", "adjustment": "proficient"}
NOT_YET = {"overview": "not-yet", "adjustment": "not-yet"}


def test_a_disagreement_is_adjudicated_by_a_senior_reviewer_and_the_teacher_gets_one_decision(
    calibration_platform: Any, calibration_world: Any
) -> None:
    world, client = calibration_world, calibration_world.client
    credential_id = world.publish("Calibrated Formative Assessment")
    first, second = world.reviewer(credential_id), world.reviewer(credential_id)
    teacher = world.teacher()
    submission_id = world.submit_evidence(teacher, credential_id)

    seats = {r.subject: client.assigned_review(r, submission_id, attempt=1) for r in (first, second)}
    assert {s["role"] for s in seats.values()} == {"primary", "second"}
    # Registered once both seats are taken, so the senior reviewer is free to adjudicate (never one of
    # the two scorers of the same attempt).
    senior = world.reviewer(credential_id, senior=True)
    client.score(first, seats[first.subject]["review_id"], PROFICIENT)
    client.score(second, seats[second.subject]["review_id"], NOT_YET, feedback="The video does not show the adjustment.")

    adjudication = client.assigned_review(senior, submission_id, attempt=1)
    assert adjudication["role"] == "adjudicator"
    client.score(senior, adjudication["review_id"], PROFICIENT)
    client.wait_status(teacher, submission_id, "awarded")

    mine = lambda e: e.get("submission_id") == submission_id  # noqa: E731
    scored = read_events(calibration_platform.endpoints.kafka_bootstrap, "review.scored", mine, 2, timeout=10)
    assert len(scored) == 1, "the teacher gets exactly one decision per attempt"
    decision = scored[0].value
    assert decision["decision"] == "passed" and decision["adjudicated"] and decision["double_scored"]
    assigned = read_events(calibration_platform.endpoints.kafka_bootstrap, "review.assigned", mine, 3)
    assert sorted(e.value["role"] for e in assigned) == ["adjudicator", "primary", "second"]

    # Both first scorers disagreed on every criterion: below the agreement threshold, they are flagged
    # and, with blocking on, the next submission goes to the senior reviewer only.
    reliability = client.call("GET", "review", "/reliability", world.operator)
    flagged = {r["reviewer_id"] for r in reliability["reviewers"] if r["flagged"]}
    assert {first.subject, second.subject} <= flagged and senior.subject not in flagged
    newcomer = world.teacher()
    later = world.submit_evidence(newcomer, credential_id)
    wait_for(lambda: [r for r in client.call("GET", "review", "/reviews/assigned", senior) if r["submission_id"] == later],
             "the senior reviewer to receive the new submission")
    for blocked in (first, second):
        assert not [r for r in client.call("GET", "review", "/reviews/assigned", blocked) if r["submission_id"] == later]
