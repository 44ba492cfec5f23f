"""Pure double-scoring rules: who is double scored, when two reviewers agree, and what the teacher is told."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from microcred.events import PassingRule, Rubric, RubricCriterion, RubricLevel
from microcred.review.domain.model import (
    DoubleScoringPolicy,
    Outcome,
    Review,
    ReviewStatus,
    Scorecard,
    ScoreEntry,
    SeatRole,
    merge_scorecards,
    resolve,
    sample_point,
    score,
    scores_agree,
)

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SCALE = (
    RubricLevel(key="beginning", name="Beginning", points=0),
    RubricLevel(key="developing", name="Developing", points=1),
    RubricLevel(key="proficient", name="Proficient", points=2),
    RubricLevel(key="exemplary", name="Exemplary", points=3),
)
RUBRIC = Rubric(
    criteria=(
        RubricCriterion(key="planning", name="Planning", levels=SCALE),
        RubricCriterion(key="delivery", name="Delivery", levels=SCALE),
    ),
    passing_rule=PassingRule(kind="all_criteria_at_least", level="developing"),
)


def card(planning: str, delivery: str, feedback: str = "") -> Scorecard:
    return score(RUBRIC, [ScoreEntry("planning", planning, feedback), ScoreEntry("delivery", delivery, feedback)])


def test_the_calibration_phase_double_scores_the_first_attempts_of_a_version() -> None:
    policy = DoubleScoringPolicy(calibration_size=50, share=0.0)
    assert all(policy.needs_second(uuid4(), earlier) for earlier in range(50))
    assert not any(policy.needs_second(uuid4(), 50 + n) for n in range(100))


def test_after_calibration_about_the_configured_share_is_double_scored_and_the_choice_is_reproducible() -> None:
    policy = DoubleScoringPolicy(calibration_size=0, share=0.10)
    ids = [UUID(int=n * 7919 + 1) for n in range(5000)]
    chosen = [review_id for review_id in ids if policy.needs_second(review_id, 1000)]
    assert 400 < len(chosen) < 600
    assert chosen == [review_id for review_id in ids if policy.needs_second(review_id, 1000)]
    assert all(0.0 <= sample_point(review_id) < 1.0 for review_id in ids)


def test_a_share_of_zero_never_and_a_share_of_one_always_double_scores_after_calibration() -> None:
    ids = [uuid4() for _ in range(200)]
    assert not any(DoubleScoringPolicy(0, 0.0).needs_second(i, 10) for i in ids)
    assert all(DoubleScoringPolicy(0, 1.0).needs_second(i, 10) for i in ids)


def test_the_same_decision_within_one_level_on_every_criterion_is_agreement() -> None:
    assert scores_agree(RUBRIC, card("proficient", "developing"), card("exemplary", "proficient"))
    assert scores_agree(RUBRIC, card("beginning", "developing", "x"), card("beginning", "beginning", "y"))


def test_two_levels_apart_on_one_criterion_is_disagreement_even_with_the_same_decision() -> None:
    first, second = card("developing", "proficient"), card("exemplary", "proficient")
    assert first.decision == second.decision == "passed"
    assert not scores_agree(RUBRIC, first, second)


def test_different_decisions_are_disagreement_even_one_level_apart() -> None:
    assert not scores_agree(RUBRIC, card("developing", "developing"), card("beginning", "developing", "why"))


def test_the_agreed_outcome_keeps_the_primarys_levels_and_merges_both_reviewers_feedback() -> None:
    primary = card("beginning", "developing", "Plan the lesson objectives.")
    second = score(RUBRIC, [ScoreEntry("planning", "beginning", "Objectives are missing."),
                            ScoreEntry("delivery", "proficient", "")])
    merged = merge_scorecards(primary, second)
    assert [(r.level_key, r.feedback) for r in merged.results] == [
        ("beginning", "Plan the lesson objectives.\n\nObjectives are missing."),
        ("developing", "Plan the lesson objectives."),
    ]
    assert (merged.decision, merged.total_points) == (primary.decision, primary.total_points)
    assert [(f.criterion_key, f.feedback) for f in merged.revision_feedback] == [
        ("planning", "Plan the lesson objectives.\n\nObjectives are missing.")
    ]


def test_identical_feedback_from_both_reviewers_is_said_once() -> None:
    merged = merge_scorecards(card("developing", "developing", "Same."), card("developing", "developing", "Same."))
    assert {r.feedback for r in merged.results} == {"Same."}


def seat(role: SeatRole, scorecard: Scorecard | None) -> Review:
    return Review(
        review_id=uuid4(), submission_id=uuid4(), attempt=1, credential_id=uuid4(), credential_version=1,
        teacher_id="t", states=(), evidence=(), created_at=NOW,
        status=ReviewStatus.SCORED if scorecard else ReviewStatus.ASSIGNED, reviewer_id=role,
        scorecard=scorecard, role=role,
    )


def test_a_single_scored_attempt_is_decided_by_its_reviewer() -> None:
    scored = card("developing", "developing")
    assert resolve(RUBRIC, [seat("primary", scored)]) == Outcome(scored)
    assert resolve(RUBRIC, [seat("primary", None)]) is None


def test_a_double_scored_attempt_waits_for_both_then_agrees_or_calls_for_an_adjudicator() -> None:
    first = card("developing", "developing")
    assert resolve(RUBRIC, [seat("primary", first), seat("second", None)]) is None
    assert resolve(RUBRIC, [seat("primary", None), seat("second", first)]) is None
    agreed = resolve(RUBRIC, [seat("primary", first), seat("second", card("proficient", "developing"))])
    assert isinstance(agreed, Outcome) and agreed.double_scored and not agreed.adjudicated
    assert resolve(RUBRIC, [seat("primary", first), seat("second", card("exemplary", "developing"))]) == "adjudicate"


def test_the_adjudicators_scores_alone_decide() -> None:
    first, second = card("developing", "developing"), card("beginning", "beginning", "no")
    assert resolve(RUBRIC, [seat("primary", first), seat("second", second), seat("adjudicator", None)]) is None
    final = card("proficient", "proficient")
    outcome = resolve(RUBRIC, [seat("primary", first), seat("second", second), seat("adjudicator", final)])
    assert outcome == Outcome(final, double_scored=True, adjudicated=True)
