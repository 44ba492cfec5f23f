"""Reviewer reliability over double-scored work: agreement, weighted kappa, and who needs recalibration.

A *pair* is one rubric criterion of one double-scored attempt, scored by both the primary and the
second reviewer, written as the two level indices (0 is the lowest level on that criterion's scale).
Pairs are recorded when the second of the two reviewers scores, whatever comes of it afterwards.

- Exact agreement: the share of pairs on the same level.
- Adjacent agreement: the share of pairs at most one level apart (exact included).
- Kappa: Cohen's kappa with quadratic weights, where a disagreement costs the square of the distance
  between the two level indices (so it equals scikit-learn's ``cohen_kappa_score(a, b,
  weights="quadratic", labels=range(k))``; without ``labels`` scikit-learn spaces the observed levels
  evenly, which is the same whenever the observed levels have no gaps).

Degenerate cases, defined so that a statistic is never NaN: with no pairs every statistic is None
(nothing is known, and nobody is flagged on it). When both reviewers put every pair on one and the same
level, chance agreement is total and kappa is 0/0; it is defined as 1.0, since the two never
disagreed. That is the only way the expected disagreement can be zero: if the two used different
levels anywhere, some off-diagonal cell has expected mass and kappa is an ordinary number.

A reviewer (or a credential) is flagged for recalibration when it has at least ``min_pairs`` pairs and
its kappa is below ``min_kappa`` or its exact agreement below ``min_agreement``.

Agreement with adjudication: on an attempt a senior reviewer adjudicated, how often each of the two
reviewers' levels (exact) and decision matched the adjudicator's, which decided the attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

LevelPair = tuple[int, int]
Decision = Literal["passed", "revise"]
# One reviewer on one adjudicated attempt: (their levels, the adjudicator's levels, their decision, the final one).
Versus = tuple[tuple[int, ...], tuple[int, ...], Decision, Decision]


def exact_agreement(pairs: Sequence[LevelPair]) -> float | None:
    if not pairs:
        return None
    return sum(1 for a, b in pairs if a == b) / len(pairs)


def adjacent_agreement(pairs: Sequence[LevelPair]) -> float | None:
    if not pairs:
        return None
    return sum(1 for a, b in pairs if abs(a - b) <= 1) / len(pairs)


def quadratic_kappa(pairs: Sequence[LevelPair]) -> float | None:
    """Quadratic-weighted Cohen's kappa over level-index pairs (see the module docstring for edge cases)."""
    if not pairs:
        return None
    n = len(pairs)
    size = max(max(a, b) for a, b in pairs) + 1
    first = [0] * size
    second = [0] * size
    observed = 0.0
    for a, b in pairs:
        first[a] += 1
        second[b] += 1
        observed += (a - b) ** 2
    expected = sum(first[i] * second[j] * (i - j) ** 2 for i in range(size) for j in range(size)) / n
    if expected == 0:
        return 1.0
    return 1.0 - observed / expected


@dataclass(frozen=True)
class ScoredPair:
    """One double-scored attempt: both reviewers' level indices per criterion (rubric order)."""

    review_id: UUID
    credential_id: UUID
    credential_version: int
    primary_reviewer: str
    second_reviewer: str
    primary_levels: tuple[int, ...]
    second_levels: tuple[int, ...]
    primary_decision: Decision
    second_decision: Decision
    adjudicator: str | None = None
    adjudicated_levels: tuple[int, ...] | None = None
    adjudicated_decision: Decision | None = None

    def involves(self, reviewer_id: str) -> bool:
        return reviewer_id in (self.primary_reviewer, self.second_reviewer)

    def levels_of(self, reviewer_id: str) -> tuple[tuple[int, ...], tuple[int, ...], Decision]:
        """(this reviewer's levels, the other reviewer's levels, this reviewer's decision)."""
        if reviewer_id == self.primary_reviewer:
            return self.primary_levels, self.second_levels, self.primary_decision
        return self.second_levels, self.primary_levels, self.second_decision


@dataclass(frozen=True)
class Thresholds:
    min_kappa: float = 0.6
    min_agreement: float = 0.8
    min_pairs: int = 10


@dataclass(frozen=True)
class ReliabilityStats:
    attempts: int
    pairs: int
    exact_agreement: float | None
    adjacent_agreement: float | None
    kappa: float | None
    adjudicated_attempts: int
    level_agreement_with_adjudication: float | None
    decision_agreement_with_adjudication: float | None
    flagged: bool


def _stats(
    level_pairs: list[LevelPair],
    attempts: int,
    adjudicated_attempts: int,
    versus_adjudicator: list[Versus],
    thresholds: Thresholds,
) -> ReliabilityStats:
    kappa = quadratic_kappa(level_pairs)
    exact = exact_agreement(level_pairs)
    with_final = [(mine, final) for levels, adjudicated, _, _ in versus_adjudicator
                  for mine, final in zip(levels, adjudicated, strict=True)]
    decisions = [mine == final for _, _, mine, final in versus_adjudicator]
    flagged = (
        len(level_pairs) >= thresholds.min_pairs
        and kappa is not None
        and exact is not None
        and (kappa < thresholds.min_kappa or exact < thresholds.min_agreement)
    )
    return ReliabilityStats(
        attempts=attempts,
        pairs=len(level_pairs),
        exact_agreement=exact,
        adjacent_agreement=adjacent_agreement(level_pairs),
        kappa=kappa,
        adjudicated_attempts=adjudicated_attempts,
        level_agreement_with_adjudication=exact_agreement(with_final),
        decision_agreement_with_adjudication=sum(decisions) / len(decisions) if decisions else None,
        flagged=flagged,
    )


def reviewer_stats(pairs: Iterable[ScoredPair], reviewer_id: str, thresholds: Thresholds) -> ReliabilityStats:
    """A reviewer against whoever else scored the same attempts, and against adjudicators."""
    level_pairs: list[LevelPair] = []
    versus: list[Versus] = []
    attempts = 0
    for pair in pairs:
        if not pair.involves(reviewer_id):
            continue
        attempts += 1
        mine, theirs, decision = pair.levels_of(reviewer_id)
        level_pairs.extend(zip(mine, theirs, strict=True))
        if pair.adjudicated_levels is not None and pair.adjudicated_decision is not None:
            versus.append((mine, pair.adjudicated_levels, decision, pair.adjudicated_decision))
    return _stats(level_pairs, attempts, len(versus), versus, thresholds)


def credential_stats(pairs: Iterable[ScoredPair], credential_id: UUID, thresholds: Thresholds) -> ReliabilityStats:
    """All double-scored attempts of a credential (every version), primary against second.

    Agreement with adjudication pools both reviewers of each adjudicated attempt.
    """
    level_pairs: list[LevelPair] = []
    versus: list[Versus] = []
    attempts = 0
    adjudicated = 0
    for pair in pairs:
        if pair.credential_id != credential_id:
            continue
        attempts += 1
        level_pairs.extend(zip(pair.primary_levels, pair.second_levels, strict=True))
        if pair.adjudicated_levels is not None and pair.adjudicated_decision is not None:
            adjudicated += 1
            versus.append((pair.primary_levels, pair.adjudicated_levels, pair.primary_decision,
                           pair.adjudicated_decision))
            versus.append((pair.second_levels, pair.adjudicated_levels, pair.second_decision,
                           pair.adjudicated_decision))
    return _stats(level_pairs, attempts, adjudicated, versus, thresholds)
