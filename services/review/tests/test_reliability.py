"""Reliability statistics: checked against scikit-learn and hand-computed examples."""

from __future__ import annotations

import math
import random
import warnings
from uuid import UUID, uuid4

import pytest
from sklearn.metrics import cohen_kappa_score

from microcred.review.domain.reliability import (
    Decision,
    LevelPair,
    ScoredPair,
    Thresholds,
    adjacent_agreement,
    credential_stats,
    exact_agreement,
    quadratic_kappa,
    reviewer_stats,
)


def sklearn_kappa(pairs: list[LevelPair], labels: list[int] | None = None) -> float:
    first, second = [a for a, _ in pairs], [b for _, b in pairs]
    return float(cohen_kappa_score(first, second, weights="quadratic", labels=labels))


def random_pairs(seed: int, n: int, levels: int) -> list[LevelPair]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        a = rng.randrange(levels)
        # Correlated but noisy, like two reviewers of the same work.
        b = min(levels - 1, max(0, a + rng.choice((-2, -1, 0, 0, 0, 1, 1, 2))))
        pairs.append((a, b))
    return pairs


@pytest.mark.parametrize(("seed", "n", "levels"), [(1, 40, 4), (2, 200, 4), (3, 15, 3), (4, 500, 5), (5, 60, 2)])
def test_kappa_matches_scikit_learn_on_random_data(seed: int, n: int, levels: int) -> None:
    pairs = random_pairs(seed, n, levels)
    assert quadratic_kappa(pairs) == pytest.approx(sklearn_kappa(pairs, list(range(levels))), abs=1e-12)


def test_kappa_matches_scikit_learn_on_independent_random_ratings() -> None:
    rng = random.Random(11)
    pairs = [(rng.randrange(4), rng.randrange(4)) for _ in range(300)]
    assert quadratic_kappa(pairs) == pytest.approx(sklearn_kappa(pairs), abs=1e-12)


def test_perfect_agreement_over_several_levels_is_a_kappa_of_one() -> None:
    pairs = [(level, level) for level in (0, 1, 2, 3, 1, 2, 0, 3, 2)]
    assert quadratic_kappa(pairs) == pytest.approx(sklearn_kappa(pairs)) == pytest.approx(1.0)


def test_a_systematic_one_level_offset_matches_scikit_learn() -> None:
    rng = random.Random(3)
    pairs = [(a, a + 1) for a in (rng.randrange(4) for _ in range(120))]
    assert quadratic_kappa(pairs) == pytest.approx(sklearn_kappa(pairs, list(range(5))), abs=1e-12)
    harsh = [(a, max(0, a - 1)) for a in range(4) for _ in range(10)]
    assert quadratic_kappa(harsh) == pytest.approx(sklearn_kappa(harsh), abs=1e-12)


def test_levels_with_gaps_are_spaced_by_their_true_distance_like_scikit_learn_given_the_scale() -> None:
    pairs = [(0, 0), (0, 3), (3, 3), (1, 3), (3, 0), (1, 1), (0, 1)]  # level 2 never used
    assert quadratic_kappa(pairs) == pytest.approx(sklearn_kappa(pairs, [0, 1, 2, 3]), abs=1e-12)


def test_pairs_all_on_one_and_the_same_level_are_defined_as_a_kappa_of_one() -> None:
    pairs = [(2, 2)] * 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(sklearn_kappa(pairs))  # scikit-learn leaves 0/0 undefined
    assert quadratic_kappa(pairs) == 1.0


def test_one_reviewer_always_on_one_level_against_a_varying_other_matches_scikit_learn() -> None:
    pairs = [(1, 0), (1, 1), (1, 2), (1, 1)]
    assert quadratic_kappa(pairs) == pytest.approx(sklearn_kappa(pairs), abs=1e-12) == pytest.approx(0.0)


def test_no_pairs_means_no_figures() -> None:
    assert quadratic_kappa([]) is None and exact_agreement([]) is None and adjacent_agreement([]) is None


def test_exact_and_adjacent_agreement_on_a_hand_computed_example() -> None:
    pairs = [(0, 0), (1, 2), (2, 0), (3, 3), (1, 1)]
    assert exact_agreement(pairs) == pytest.approx(3 / 5)  # (0,0), (3,3), (1,1)
    assert adjacent_agreement(pairs) == pytest.approx(4 / 5)  # all but (2,0)
    assert adjacent_agreement([(0, 2), (3, 0)]) == 0.0
    assert exact_agreement([(1, 2), (2, 3)]) == 0.0 and adjacent_agreement([(1, 2), (2, 3)]) == 1.0


CREDENTIAL = uuid4()


def decide(levels: tuple[int, ...]) -> Decision:
    return "passed" if min(levels) >= 1 else "revise"


def pair(
    first: str,
    second: str,
    mine: tuple[int, ...],
    theirs: tuple[int, ...],
    *,
    credential_id: UUID = CREDENTIAL,
    adjudicated: tuple[int, ...] | None = None,
) -> ScoredPair:
    return ScoredPair(
        review_id=uuid4(), credential_id=credential_id, credential_version=1,
        primary_reviewer=first, second_reviewer=second, primary_levels=mine, second_levels=theirs,
        primary_decision=decide(mine), second_decision=decide(theirs),
        adjudicator=None if adjudicated is None else "carol", adjudicated_levels=adjudicated,
        adjudicated_decision=None if adjudicated is None else decide(adjudicated),
    )


def test_a_reviewer_is_measured_against_whoever_shared_the_attempt_whichever_seat_they_held() -> None:
    pairs = [pair("alice", "bob", (1, 2), (1, 2)), pair("carol", "alice", (0, 3), (2, 3)),
             pair("bob", "carol", (1, 1), (0, 0))]
    stats = reviewer_stats(pairs, "alice", Thresholds())
    assert (stats.attempts, stats.pairs) == (2, 4)
    assert stats.exact_agreement == pytest.approx(3 / 4)
    assert stats.adjacent_agreement == pytest.approx(3 / 4)
    assert stats.kappa == pytest.approx(sklearn_kappa([(1, 1), (2, 2), (2, 0), (3, 3)], [0, 1, 2, 3]))
    assert not stats.flagged  # only 4 pairs: not enough to judge


def test_a_reviewer_below_either_threshold_with_enough_pairs_is_flagged() -> None:
    thresholds = Thresholds(min_kappa=0.6, min_agreement=0.8, min_pairs=10)
    erratic = [pair("alice", "bob", (0, 3), (3, 0)) for _ in range(5)]
    assert reviewer_stats(erratic, "alice", thresholds).flagged
    assert not reviewer_stats(erratic[:4], "alice", thresholds).flagged  # 8 pairs < 10
    # Kappa is high but exact agreement (7 of 10) is under 80%: flagged on agreement alone.
    close = [pair("alice", "bob", (0, 3), (0, 3)) for _ in range(2)] + [pair("alice", "bob", (0, 3), (1, 3))] * 3
    stats = reviewer_stats(close, "alice", thresholds)
    assert stats.kappa is not None and stats.kappa > 0.6 and stats.exact_agreement == pytest.approx(0.7)
    assert stats.flagged
    steady = [pair("alice", "bob", (0, 3), (0, 3)) for _ in range(5)]
    assert not reviewer_stats(steady, "alice", thresholds).flagged


def test_agreement_with_adjudicated_outcomes_is_counted_per_reviewer_and_per_credential() -> None:
    adjudicated = pair("alice", "bob", (1, 2), (0, 0), adjudicated=(1, 1))
    plain = pair("alice", "bob", (1, 1), (1, 1))
    alice = reviewer_stats([adjudicated, plain], "alice", Thresholds())
    bob = reviewer_stats([adjudicated, plain], "bob", Thresholds())
    assert (alice.adjudicated_attempts, alice.level_agreement_with_adjudication,
            alice.decision_agreement_with_adjudication) == (1, 0.5, 1.0)
    assert (bob.level_agreement_with_adjudication, bob.decision_agreement_with_adjudication) == (0.0, 0.0)
    credential = credential_stats([adjudicated, plain, pair("x", "y", (1,), (1,), credential_id=uuid4())],
                                  CREDENTIAL, Thresholds())
    assert (credential.attempts, credential.pairs, credential.adjudicated_attempts) == (2, 4, 1)
    assert credential.level_agreement_with_adjudication == pytest.approx(1 / 4)
    assert credential.decision_agreement_with_adjudication == pytest.approx(1 / 2)
    assert credential.exact_agreement == pytest.approx(2 / 4)
