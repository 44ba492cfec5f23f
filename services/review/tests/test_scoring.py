"""Scoring: what a complete set of rubric scores decides, and what a reviewer must explain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from microcred.events import PassingRule, Rubric, RubricCriterion, RubricLevel
from microcred.review.domain.model import ReviewStatus, ScoreEntry, score
from microcred.review.service_layer.handlers import ScoreReview, UpsertReviewer
from microcred.runtime.errors import Conflict, Forbidden, Invalid

from .test_routing import review

LEVELS = (
    RubricLevel(key="beginning", name="Beginning", points=1),
    RubricLevel(key="developing", name="Developing", points=2),
    RubricLevel(key="proficient", name="Proficient", points=3),
    RubricLevel(key="exemplary", name="Exemplary", points=4),
)
CRITERIA = (
    RubricCriterion(key="planning", name="Planning", levels=LEVELS),
    RubricCriterion(key="delivery", name="Delivery", levels=LEVELS),
    RubricCriterion(key="reflection", name="Reflection", levels=LEVELS),
)
AT_LEAST_PROFICIENT = Rubric(
    criteria=CRITERIA, passing_rule=PassingRule(kind="all_criteria_at_least", level="proficient")
)
TOTAL_OF_TEN = Rubric(criteria=CRITERIA, passing_rule=PassingRule(kind="minimum_total", points=10))


def entries(planning: str, delivery: str, reflection: str, /, **feedback: str) -> list[ScoreEntry]:
    levels = {"planning": planning, "delivery": delivery, "reflection": reflection}
    return [ScoreEntry(key, level, feedback.get(key, "")) for key, level in levels.items()]


def test_all_criteria_at_or_above_the_passing_level_pass() -> None:
    card = score(AT_LEAST_PROFICIENT, entries("proficient", "exemplary", "proficient"))
    assert card.decision == "passed"
    assert card.total_points == 10
    assert card.revision_feedback == ()
    assert [(r.criterion_name, r.level_name, r.points) for r in card.results] == [
        ("Planning", "Proficient", 3), ("Delivery", "Exemplary", 4), ("Reflection", "Proficient", 3),
    ]


def test_one_criterion_below_the_passing_level_asks_for_revision_with_its_feedback_only() -> None:
    card = score(
        AT_LEAST_PROFICIENT,
        entries("exemplary", "developing", "exemplary", delivery="Show the student discourse.",
                planning="Lovely plan."),
    )
    assert card.decision == "revise"
    assert [(f.criterion_key, f.level_name, f.feedback) for f in card.revision_feedback] == [
        ("delivery", "Developing", "Show the student discourse."),
    ]


def test_a_high_total_does_not_pass_when_a_criterion_is_below_the_passing_level() -> None:
    card = score(AT_LEAST_PROFICIENT, entries("exemplary", "exemplary", "developing", reflection="Go deeper."))
    assert card.total_points == 10
    assert card.decision == "revise"


def test_reaching_the_minimum_total_passes_even_with_a_weak_criterion() -> None:
    card = score(TOTAL_OF_TEN, entries("exemplary", "exemplary", "developing"))
    assert card.decision == "passed"
    assert card.total_points == 10


def test_falling_short_of_the_minimum_total_asks_for_revision_with_all_given_feedback() -> None:
    card = score(
        TOTAL_OF_TEN,
        entries("exemplary", "proficient", "developing", delivery="More wait time.", reflection="Use evidence.",
                planning="Strong."),
    )
    assert card.decision == "revise"
    assert card.total_points == 9
    assert [f.criterion_key for f in card.revision_feedback] == ["planning", "delivery", "reflection"]


def test_feedback_is_required_on_every_criterion_below_the_passing_level() -> None:
    with pytest.raises(Invalid) as caught:
        score(AT_LEAST_PROFICIENT, entries("beginning", "developing", "proficient", planning="   "))
    assert caught.value.code == "feedback_required"
    assert caught.value.details == {"criteria": ["planning", "delivery"]}


def test_blank_feedback_does_not_count_as_feedback() -> None:
    with pytest.raises(Invalid) as caught:
        score(AT_LEAST_PROFICIENT, entries("proficient", "developing", "proficient", delivery=" \n "))
    assert caught.value.code == "feedback_required"


def test_a_short_total_needs_feedback_on_every_criterion_not_at_its_top_level() -> None:
    with pytest.raises(Invalid) as caught:
        score(TOTAL_OF_TEN, entries("exemplary", "proficient", "developing", delivery="More wait time."))
    assert caught.value.code == "feedback_required"
    assert caught.value.details == {"criteria": ["reflection"]}


def test_a_passing_total_needs_no_feedback() -> None:
    assert score(TOTAL_OF_TEN, entries("exemplary", "exemplary", "developing")).decision == "passed"


def test_a_minimum_total_the_rubric_cannot_reach_never_reaches_review() -> None:
    # The catalog contract refuses it, so a short total always leaves a criterion to improve.
    with pytest.raises(ValidationError, match="above the 12 points"):
        Rubric(criteria=CRITERIA, passing_rule=PassingRule(kind="minimum_total", points=13))


def test_a_short_total_with_every_criterion_but_one_at_the_top_needs_feedback_on_that_one() -> None:
    at_twelve = Rubric(criteria=CRITERIA, passing_rule=PassingRule(kind="minimum_total", points=12))
    with pytest.raises(Invalid) as caught:
        score(at_twelve, entries("exemplary", "exemplary", "proficient"))
    assert caught.value.details == {"criteria": ["reflection"]}


# -- a passing rule gated on some criteria ------------------------------------------------------

PLANNING_AND_DELIVERY_GATED = Rubric(
    criteria=CRITERIA,
    passing_rule=PassingRule(kind="all_criteria_at_least", level="proficient", criteria=("planning", "delivery")),
)


def test_a_criterion_outside_the_gate_below_the_level_does_not_force_revision() -> None:
    card = score(PLANNING_AND_DELIVERY_GATED, entries("proficient", "exemplary", "beginning"))
    assert card.decision == "passed" and card.revision_feedback == ()
    assert [r.level_key for r in card.results] == ["proficient", "exemplary", "beginning"]


def test_a_criterion_outside_the_gate_needs_no_feedback_even_below_the_level() -> None:
    assert score(PLANNING_AND_DELIVERY_GATED, entries("proficient", "proficient", "beginning")).decision == "passed"


def test_a_gated_criterion_below_the_level_forces_revision_and_needs_feedback() -> None:
    with pytest.raises(Invalid) as caught:
        score(PLANNING_AND_DELIVERY_GATED, entries("developing", "proficient", "beginning"))
    assert caught.value.code == "feedback_required"
    assert caught.value.details == {"criteria": ["planning"]}

    card = score(
        PLANNING_AND_DELIVERY_GATED,
        entries("developing", "proficient", "beginning", planning="Plan the hinge question.", reflection="Deeper."),
    )
    assert card.decision == "revise"
    assert [(f.criterion_key, f.feedback) for f in card.revision_feedback] == [
        ("planning", "Plan the hinge question."),
    ]


def test_every_criterion_must_still_be_scored_when_only_some_are_gated() -> None:
    with pytest.raises(Invalid) as caught:
        score(PLANNING_AND_DELIVERY_GATED, entries("proficient", "proficient", "proficient")[:2])
    assert caught.value.code == "incomplete_scores"


def test_a_missing_criterion_is_rejected_as_incomplete() -> None:
    with pytest.raises(Invalid) as caught:
        score(AT_LEAST_PROFICIENT, entries("proficient", "proficient", "proficient")[:2])
    assert caught.value.code == "incomplete_scores"
    assert caught.value.details == {"missing": ["reflection"], "repeated": []}


def test_no_scores_at_all_are_rejected_as_incomplete() -> None:
    with pytest.raises(Invalid) as caught:
        score(AT_LEAST_PROFICIENT, [])
    assert caught.value.code == "incomplete_scores"


def test_a_criterion_scored_twice_is_rejected_as_incomplete() -> None:
    twice = [*entries("proficient", "proficient", "proficient"), ScoreEntry("planning", "exemplary")]
    with pytest.raises(Invalid) as caught:
        score(AT_LEAST_PROFICIENT, twice)
    assert caught.value.code == "incomplete_scores"
    assert caught.value.details == {"missing": [], "repeated": ["planning"]}


def test_a_criterion_the_rubric_does_not_have_is_rejected() -> None:
    extra = [*entries("proficient", "proficient", "proficient"), ScoreEntry("charisma", "exemplary")]
    with pytest.raises(Invalid) as caught:
        score(AT_LEAST_PROFICIENT, extra)
    assert caught.value.code == "unknown_criterion"


def test_a_level_the_criterion_does_not_have_is_rejected() -> None:
    with pytest.raises(Invalid) as caught:
        score(AT_LEAST_PROFICIENT, entries("proficient", "stellar", "proficient"))
    assert caught.value.code == "unknown_level"


def test_only_the_assigned_reviewer_may_score_and_only_once() -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    pending = review()
    card = score(AT_LEAST_PROFICIENT, entries("proficient", "proficient", "proficient"))
    with pytest.raises(Forbidden):
        pending.record_score("alice", card, now)  # still queued: nobody is assigned
    pending.assign("alice", now, timedelta(days=14))
    with pytest.raises(Forbidden):
        pending.record_score("bob", card, now)
    pending.record_score("alice", card, now)
    assert pending.status is ReviewStatus.SCORED
    with pytest.raises(Conflict) as caught:
        pending.record_score("alice", card, now)
    assert caught.value.code == "already_scored"


def test_registering_a_reviewer_requires_an_explicit_certification_list_or_null() -> None:
    with pytest.raises(ValidationError):
        UpsertReviewer.model_validate({"max_open": 3})
    assert UpsertReviewer.model_validate({"credential_ids": None}).credential_ids is None
    assert UpsertReviewer.model_validate({"credential_ids": []}).max_open == 10
    with pytest.raises(ValidationError):
        UpsertReviewer.model_validate({"credential_ids": None, "max_open": -1})


def test_a_score_request_defaults_feedback_to_blank_and_needs_keys() -> None:
    body = ScoreReview.model_validate({"results": [{"criterion_key": "planning", "level_key": "proficient"}]})
    assert body.results[0].feedback == ""
    with pytest.raises(ValidationError):
        ScoreReview.model_validate({"results": [{"criterion_key": "", "level_key": "proficient"}]})


def test_only_an_open_review_can_be_withdrawn_and_only_once() -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    pending = review()
    assert pending.withdraw(now, "moved") and pending.status is ReviewStatus.WITHDRAWN
    assert not pending.withdraw(now, "again") and pending.withdrawal_reason == "moved"


def test_a_scored_review_cannot_be_withdrawn() -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    done = review()
    done.assign("alice", now, timedelta(days=14))
    done.record_score("alice", score(AT_LEAST_PROFICIENT, entries("proficient", "proficient", "proficient")), now)
    assert not done.withdraw(now, "too late") and done.status is ReviewStatus.SCORED


def test_a_withdrawn_review_cannot_be_scored_even_by_its_reviewer() -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    pending = review()
    pending.assign("alice", now, timedelta(days=14))
    pending.withdraw(now, None)
    card = score(AT_LEAST_PROFICIENT, entries("proficient", "proficient", "proficient"))
    with pytest.raises(Conflict) as caught:
        pending.record_score("alice", card, now)
    assert caught.value.code == "review_withdrawn"
