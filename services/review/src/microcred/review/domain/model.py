"""Review rules: who reviews an attempt, and what a reviewer's rubric scores decide.

Routing is deterministic so that replaying the same events routes the same way: among eligible
reviewers (active and available, certified for the credential, under capacity, not the teacher, not
in the teacher's district or school, not excluded from this review), the one with the fewest open
reviews wins, ties going to the smallest reviewer id. A review nobody can take stays queued; the
queue is drained oldest first whenever capacity or certification appears.

A review taken back from its reviewer (declined, or overdue) returns to the queue with that reviewer
excluded from it for good, and its next assignment names who it was taken from and why.

Scoring is all-or-nothing: every rubric criterion exactly once, with feedback wherever the teacher
needs to know what to improve. The decision is a pure function of the rubric's passing rule; under
``all_criteria_at_least`` only the rule's gated criteria (``Rubric.gated_criteria()``) must reach the
level. A review is always scored against the rubric of the credential version its submission was
bound to, never the latest one: the projection keeps every version.

Calibration and double scoring: the first ``calibration_size`` attempts of each credential version,
and after that a share of attempts picked by a hash of the review id (so a replay picks the same
ones), get a second, independent reviewer. The reviewers of one attempt form its panel: a primary, an
optional second and, when those two disagree (different decisions, or more than one level apart on any
criterion), a senior adjudicator. Each panel seat is its own assignment row (own reviewer, deadline and
scores) keyed to the attempt's review id, so capacity, decline and the overdue sweep treat it like any
other assignment, and nobody on a panel is routed a second seat of it. The teacher hears one decision
per attempt: the single reviewer's, the agreed one (primary's levels, both reviewers' feedback), or
the adjudicator's.

A withdrawn attempt is void: its open review (queued or assigned) becomes ``withdrawn``, which no
longer counts against the reviewer's capacity and can never be scored. A scored review is history
and stays as it is.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from uuid import UUID

from microcred.events import CriterionFeedback, CriterionResult, EvidenceRef, Rubric, RubricLevel
from microcred.review.domain.reliability import ScoredPair
from microcred.runtime.errors import Conflict, Forbidden, Invalid

Decision = Literal["passed", "revise"]
CredentialKey = tuple[UUID, int]
SeatRole = Literal["primary", "second", "adjudicator"]
_ROLE_ORDER: dict[str, int] = {"primary": 0, "second": 1, "adjudicator": 2}


class ReviewStatus(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    SCORED = "scored"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self in (ReviewStatus.QUEUED, ReviewStatus.ASSIGNED)


@dataclass(frozen=True)
class CredentialRubric:
    """What review knows of a published credential version: enough to show and score against."""

    credential_id: UUID
    version: int
    name: str
    rubric: Rubric
    # The version's own calibration phase; None = the service's ``calibration_size`` setting.
    calibration_size: int | None = None


class Availability(StrEnum):
    AVAILABLE = "available"
    PAUSED = "paused"
    ON_LEAVE = "on_leave"


CertificationStatus = Literal["active", "revoked"]


@dataclass(frozen=True)
class Certification:
    """The record of a reviewer's certification for one credential; revoked ones stay as history."""

    credential_id: UUID
    certified_at: datetime
    status: CertificationStatus = "active"


def certified_credentials(certifications: Iterable[Certification]) -> frozenset[UUID]:
    return frozenset(c.credential_id for c in certifications if c.status == "active")


def certifications_for_ids(
    credential_ids: Iterable[UUID], existing: Iterable[Certification], now: datetime
) -> tuple[Certification, ...]:
    """Turn a plain list of certified credentials into dated records, keeping what is already known.

    A credential still listed keeps its original certification date; a newly listed one is certified
    now; one that was active and is no longer listed is revoked rather than forgotten.
    """
    wanted = set(credential_ids)
    known = {c.credential_id: c for c in existing}
    records = []
    for credential_id in sorted(wanted | set(known), key=str):
        before = known.get(credential_id)
        if credential_id in wanted:
            still_active = before is not None and before.status == "active"
            records.append(Certification(credential_id, before.certified_at if before and still_active else now))
        elif before is not None:
            records.append(replace(before, status="revoked"))
    return tuple(records)


def _same_affiliation(mine: str | None, theirs: str | None) -> bool:
    if not mine or not theirs:
        return False
    return mine.strip().casefold() == theirs.strip().casefold()


@dataclass(frozen=True)
class Reviewer:
    """A reviewer as routing sees them.

    ``credential_ids`` is what routing checks: the credentials with an active certification, or None
    for a reviewer certified for every credential (the original registry's ``null``). ``certifications``
    is the dated record behind it, revoked entries included.
    """

    reviewer_id: str
    credential_ids: frozenset[UUID] | None  # None: certified for every credential
    max_open: int = 10
    active: bool = True
    open_reviews: int = 0
    district: str | None = None
    school: str | None = None
    senior: bool = False
    availability: Availability = Availability.AVAILABLE
    certifications: tuple[Certification, ...] = ()
    overdue_count: int = 0
    # Below the reliability thresholds at the last completed pair; with blocking on, gets no new work.
    flagged: bool = False

    def certified_for(self, credential_id: UUID) -> bool:
        return self.credential_ids is None or credential_id in self.credential_ids

    def conflicts_with(self, teacher_district: str | None, teacher_school: str | None) -> bool:
        """Same district or same school as the teacher: too close to judge them independently."""
        return _same_affiliation(self.district, teacher_district) or _same_affiliation(self.school, teacher_school)

    def can_take(
        self,
        credential_id: UUID,
        teacher_id: str,
        *,
        teacher_district: str | None = None,
        teacher_school: str | None = None,
        excluded: Collection[str] = frozenset(),
    ) -> bool:
        return (
            self.active
            and self.availability is Availability.AVAILABLE
            and self.certified_for(credential_id)
            and self.open_reviews < self.max_open
            and self.reviewer_id != teacher_id
            and self.reviewer_id not in excluded
            and not self.conflicts_with(teacher_district, teacher_school)
        )


def choose_reviewer(
    reviewers: Iterable[Reviewer],
    credential_id: UUID,
    teacher_id: str,
    *,
    teacher_district: str | None = None,
    teacher_school: str | None = None,
    excluded: Collection[str] = frozenset(),
    senior_only: bool = False,
) -> Reviewer | None:
    """The least-loaded eligible reviewer (ties: smallest id), or None when nobody is eligible.

    ``senior_only`` restricts the choice to reviewers who may adjudicate.
    """
    eligible = [
        r
        for r in reviewers
        if r.can_take(
            credential_id, teacher_id, teacher_district=teacher_district, teacher_school=teacher_school,
            excluded=excluded,
        )
        and (r.senior or not senior_only)
    ]
    return min(eligible, key=lambda r: (r.open_reviews, r.reviewer_id), default=None)


@dataclass(frozen=True)
class BusinessDays:
    """A deadline counted in working days: Saturdays and Sundays do not count."""

    days: int


DueRule = timedelta | BusinessDays


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward by ``days`` weekdays, keeping the time of day.

    Starting on a weekend counts from the following Monday: Saturday plus one business day is Monday.
    """
    moved = start
    remaining = days
    while remaining > 0:
        moved += timedelta(days=1)
        if moved.weekday() < 5:
            remaining -= 1
    return moved


def business_day_offsets(days: int) -> tuple[int, ...]:
    """Calendar days that ``add_business_days(start, days)`` adds, by ``start``'s weekday (Monday first).

    The deadline depends on the weekday only, so a database can apply it to a column (``start`` plus the
    offset of its weekday) without a calendar table: the overdue gauge counts with it.
    """
    monday = datetime(2024, 1, 1)
    return tuple((add_business_days(monday + timedelta(days=w), days) - monday).days - w for w in range(7))


@dataclass(frozen=True)
class Backlog:
    """The review queue as operators watch it (the review gauges)."""

    assigned: int  # panel seats assigned to a reviewer and not yet scored
    queued: int  # panel seats waiting for a reviewer (new, released, or a version not yet published)
    overdue: int  # attempts past the decision promise with a seat still open (so no decision yet)


def due_after(now: datetime, rule: DueRule) -> datetime:
    return add_business_days(now, rule.days) if isinstance(rule, BusinessDays) else now + rule


@dataclass(frozen=True)
class ScoreEntry:
    criterion_key: str
    level_key: str
    feedback: str = ""


@dataclass(frozen=True)
class Scorecard:
    results: tuple[CriterionResult, ...]
    total_points: int
    decision: Decision
    revision_feedback: tuple[CriterionFeedback, ...]  # what the teacher is told when asked to revise


@dataclass
class Review:
    review_id: UUID
    submission_id: UUID
    attempt: int
    credential_id: UUID
    credential_version: int
    teacher_id: str
    states: tuple[str, ...]
    evidence: tuple[EvidenceRef, ...]
    created_at: datetime
    status: ReviewStatus = ReviewStatus.QUEUED
    # When the teacher submitted the attempt (its SubmissionSubmitted's ``occurred_at``): the decision
    # promise and the submit-to-decision time run from here. None on rows from before it was recorded.
    submitted_at: datetime | None = None
    reviewer_id: str | None = None
    assigned_at: datetime | None = None
    due_at: datetime | None = None
    scored_at: datetime | None = None
    scorecard: Scorecard | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    # For conflict-of-interest routing only: never shown to a reviewer.
    teacher_district: str | None = None
    teacher_school: str | None = None
    # The teacher's note to the reviewer of this attempt (SubmissionSubmitted's ``note_to_reviewer``), shown
    # to every seat of the panel as the teacher wrote it.
    teacher_note: str | None = None
    # Reviewers who may not take this review: those who declined it or let it go overdue, and (when the
    # program demands fresh eyes) those who scored an earlier attempt of the same submission.
    excluded_reviewers: frozenset[str] = frozenset()
    reassigned_from: str | None = None
    reassignment_reason: str | None = None
    # A panel seat other than the primary points at the attempt's review (the primary's row).
    role: SeatRole = "primary"
    parent_review_id: UUID | None = None

    @property
    def credential_key(self) -> CredentialKey:
        return (self.credential_id, self.credential_version)

    @property
    def decision_clock_start(self) -> datetime:
        """Where the decision promise starts: the submit, or (rows recorded before it) the review's opening."""
        return self.submitted_at or self.created_at

    @property
    def attempt_review_id(self) -> UUID:
        """The id the outside world knows this attempt's review by, whichever seat this row is."""
        return self.parent_review_id or self.review_id

    def seat(self, role: SeatRole, seat_id: UUID, now: datetime) -> Review:
        """A new, queued panel seat for the same attempt; only the primary opens seats."""
        assert self.role == "primary" and role != "primary"
        return Review(
            review_id=seat_id,
            submission_id=self.submission_id,
            attempt=self.attempt,
            credential_id=self.credential_id,
            credential_version=self.credential_version,
            teacher_id=self.teacher_id,
            states=self.states,
            evidence=self.evidence,
            created_at=now,
            submitted_at=self.submitted_at,
            teacher_district=self.teacher_district,
            teacher_school=self.teacher_school,
            teacher_note=self.teacher_note,
            excluded_reviewers=self.excluded_reviewers,
            role=role,
            parent_review_id=self.review_id,
        )

    def assign(self, reviewer_id: str, now: datetime, due_in: DueRule) -> None:
        if self.status is not ReviewStatus.QUEUED:
            raise Conflict(f"review {self.review_id} is {self.status.value}, not queued", code="not_queued")
        self.status = ReviewStatus.ASSIGNED
        self.reviewer_id = reviewer_id
        self.assigned_at = now
        self.due_at = due_after(now, due_in)

    def is_overdue(self, now: datetime) -> bool:
        return self.status is ReviewStatus.ASSIGNED and self.due_at is not None and self.due_at < now

    def release(self, reason: str) -> str:
        """Take the review back from its reviewer into the queue; that reviewer never gets it again.

        Returns who it was taken from, which the next assignment reports as ``reassigned_from``.
        """
        if self.status is not ReviewStatus.ASSIGNED or self.reviewer_id is None:
            raise Conflict(f"review {self.review_id} is {self.status.value}, not assigned", code="not_assigned")
        previous = self.reviewer_id
        self.status = ReviewStatus.QUEUED
        self.reviewer_id = None
        self.assigned_at = None
        self.due_at = None
        self.excluded_reviewers = self.excluded_reviewers | {previous}
        self.reassigned_from = previous
        self.reassignment_reason = reason
        return previous

    def decline(self, reviewer_id: str, reason: str) -> None:
        """The assigned reviewer declines or recuses; a reason is required so operators can follow up."""
        if not reason.strip():
            raise Invalid("a reason is required to decline a review", code="reason_required")
        if self.reviewer_id != reviewer_id:
            raise Forbidden(f"review {self.review_id} is not assigned to you", code="not_assigned_to_you")
        if self.status is not ReviewStatus.ASSIGNED:
            raise Conflict(f"review {self.review_id} is {self.status.value}; only an open assignment can be "
                           "declined", code="not_assigned")
        self.release(reason.strip())

    def withdraw(self, now: datetime, reason: str | None) -> bool:
        """Void an open review; False when there was nothing open to void (scored or already withdrawn)."""
        if not self.status.is_open:
            return False
        self.status = ReviewStatus.WITHDRAWN
        self.withdrawn_at = now
        self.withdrawal_reason = reason
        return True

    def ensure_scorable_by(self, reviewer_id: str) -> None:
        if self.reviewer_id != reviewer_id:
            raise Forbidden(f"review {self.review_id} is not assigned to you", code="not_assigned_to_you")
        if self.status is ReviewStatus.WITHDRAWN:
            raise Conflict(f"review {self.review_id} was withdrawn by the teacher; it cannot be scored",
                           code="review_withdrawn")
        if self.status is not ReviewStatus.ASSIGNED:
            raise Conflict(f"review {self.review_id} is already {self.status.value}", code="already_scored")

    def record_score(self, reviewer_id: str, scorecard: Scorecard, now: datetime) -> None:
        self.ensure_scorable_by(reviewer_id)
        self.status = ReviewStatus.SCORED
        self.scorecard = scorecard
        self.scored_at = now


def route_queue(
    queue: Sequence[Review],
    reviewers: Iterable[Reviewer],
    known_credentials: Collection[CredentialKey],
    now: datetime,
    due_in: DueRule,
    panels: Mapping[UUID, Collection[str]] | None = None,
) -> list[Review]:
    """Assign queued reviews oldest first, counting each assignment against its reviewer's capacity.

    Reviews whose credential version has not been published to us yet stay queued: without the
    rubric nobody could score them. ``panels`` gives, per attempt review id, who already holds a seat
    on that attempt; they are not routed another seat of it (nor is anyone assigned in this pass).
    Adjudicator seats go only to senior reviewers. Returns the reviews that were assigned.
    """
    pool = {r.reviewer_id: r for r in reviewers}
    seated: dict[UUID, set[str]] = {key: set(value) for key, value in (panels or {}).items()}
    assigned: list[Review] = []
    for review in sorted(queue, key=lambda r: (r.created_at, _ROLE_ORDER[r.role], str(r.review_id))):
        if review.status is not ReviewStatus.QUEUED or review.credential_key not in known_credentials:
            continue
        chosen = choose_reviewer(
            pool.values(),
            review.credential_id,
            review.teacher_id,
            teacher_district=review.teacher_district,
            teacher_school=review.teacher_school,
            excluded=review.excluded_reviewers | seated.get(review.attempt_review_id, set()),
            senior_only=review.role == "adjudicator",
        )
        if chosen is None:
            continue
        review.assign(chosen.reviewer_id, now, due_in)
        seated.setdefault(review.attempt_review_id, set()).add(chosen.reviewer_id)
        pool[chosen.reviewer_id] = replace(chosen, open_reviews=chosen.open_reviews + 1)
        assigned.append(review)
    return assigned


def page_was_enough(
    queue: Sequence[Review],
    assigned: Sequence[Review],
    page: Sequence[Reviewer],
    known_credentials: Collection[CredentialKey],
    boundary: Reviewer | None,
) -> bool:
    """Whether routing against ``page`` (the least-loaded reviewers, in (open_reviews, id) order, with
    ``boundary`` the first one left out) chose exactly what routing against everyone would have.

    Reviewers left out rank at or after ``boundary`` and never gained work in the pass. So the page
    suffices when every choice ranked strictly ahead of the boundary at the moment it was made (its
    load then was at most its final load minus one), and when nothing routable stayed queued (someone
    left out might have taken it). Conservative: a False only costs a pass against the whole registry.
    """
    if boundary is None:
        return True
    if any(r.status is ReviewStatus.QUEUED and r.credential_key in known_credentials for r in queue):
        return False
    final_load = {r.reviewer_id: r.open_reviews for r in page}
    for review in assigned:
        final_load[review.reviewer_id or ""] = final_load.get(review.reviewer_id or "", 0) + 1
    limit = (boundary.open_reviews, boundary.reviewer_id)
    return all((final_load[r.reviewer_id or ""] - 1, r.reviewer_id or "") < limit for r in assigned)


def decide(rubric: Rubric, chosen: Mapping[str, RubricLevel]) -> Decision:
    """``chosen`` maps every criterion key of ``rubric`` to the level awarded."""
    rule = rubric.passing_rule
    if rule.kind == "all_criteria_at_least":
        return "revise" if _below_passing_level(rubric, chosen) else "passed"
    total = sum(level.points for level in chosen.values())
    return "passed" if total >= (rule.points or 0) else "revise"


def _below_passing_level(rubric: Rubric, chosen: Mapping[str, RubricLevel]) -> list[str]:
    """Gated criteria (the rule's ``criteria``, or all of them) scored below the passing level.

    A criterion outside the gate is scored and reported but never decides the outcome.
    """
    rule = rubric.passing_rule
    if rule.kind != "all_criteria_at_least":
        return []
    below = []
    for criterion in rubric.gated_criteria():
        passing = criterion.level(rule.level or "")
        assert passing is not None  # the Rubric contract guarantees the level on every gated criterion
        if chosen[criterion.key].points < passing.points:
            below.append(criterion.key)
    return below


def criteria_needing_feedback(rubric: Rubric, chosen: Mapping[str, RubricLevel]) -> list[str]:
    """Where the teacher must be told what to improve.

    Under ``all_criteria_at_least``: every gated criterion below the passing level (an ungated one
    never makes the teacher revise, so it needs no explanation). Under ``minimum_total``, when the
    total falls short: every criterion not at its top level, since raising any of them helps. The
    Rubric contract refuses a minimum the rubric cannot reach, so a short total always leaves at
    least one criterion below its top and a revise decision never comes without an explanation.
    """
    if rubric.passing_rule.kind == "all_criteria_at_least":
        return _below_passing_level(rubric, chosen)
    if decide(rubric, chosen) == "passed":
        return []
    return [c.key for c in rubric.criteria if chosen[c.key].points < c.levels[-1].points]


def score(rubric: Rubric, entries: Sequence[ScoreEntry]) -> Scorecard:
    """Validate a reviewer's scores against the rubric and reach the decision; raises Invalid (422)."""
    unknown = sorted({e.criterion_key for e in entries if rubric.criterion(e.criterion_key) is None})
    if unknown:
        raise Invalid(f"not criteria of this rubric: {', '.join(unknown)}", code="unknown_criterion",
                      details={"criteria": unknown})
    counts = Counter(e.criterion_key for e in entries)
    missing = [c.key for c in rubric.criteria if counts[c.key] == 0]
    repeated = [c.key for c in rubric.criteria if counts[c.key] > 1]
    if missing or repeated:
        raise Invalid(
            "every rubric criterion must be scored exactly once"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; scored more than once: {', '.join(repeated)}" if repeated else ""),
            code="incomplete_scores",
            details={"missing": missing, "repeated": repeated},
        )
    by_key = {e.criterion_key: e for e in entries}
    chosen: dict[str, RubricLevel] = {}
    bad_levels: list[dict[str, str]] = []
    for criterion in rubric.criteria:
        level = criterion.level(by_key[criterion.key].level_key)
        if level is None:
            bad_levels.append({"criterion_key": criterion.key, "level_key": by_key[criterion.key].level_key})
        else:
            chosen[criterion.key] = level
    if bad_levels:
        described = ", ".join(f"{b['level_key']!r} for {b['criterion_key']!r}" for b in bad_levels)
        raise Invalid(f"not levels of their criterion: {described}", code="unknown_level", details=bad_levels)

    feedback = {key: entry.feedback.strip() for key, entry in by_key.items()}
    lacking = [key for key in criteria_needing_feedback(rubric, chosen) if not feedback[key]]
    if lacking:
        raise Invalid(
            f"feedback is required on criteria that fall short: {', '.join(lacking)}",
            code="feedback_required",
            details={"criteria": lacking},
        )

    decision = decide(rubric, chosen)
    results = tuple(
        CriterionResult(
            criterion_key=c.key,
            criterion_name=c.name,
            level_key=chosen[c.key].key,
            level_name=chosen[c.key].name,
            points=chosen[c.key].points,
            feedback=feedback[c.key],
        )
        for c in rubric.criteria
    )
    revision: tuple[CriterionFeedback, ...] = ()
    if decision == "revise":
        short = set(_below_passing_level(rubric, chosen)) or {key for key, text in feedback.items() if text}
        revision = tuple(
            CriterionFeedback(
                criterion_key=r.criterion_key,
                criterion_name=r.criterion_name,
                level_key=r.level_key,
                level_name=r.level_name,
                feedback=r.feedback,
            )
            for r in results
            if r.criterion_key in short
        )
    return Scorecard(
        results=results,
        total_points=sum(r.points for r in results),
        decision=decision,
        revision_feedback=revision,
    )


@dataclass(frozen=True)
class DoubleScoringPolicy:
    """Which attempts get a second, independent reviewer.

    The first ``calibration_size`` attempts of each credential version do (the calibration phase);
    after that a ``share`` of them, picked from the review id so the choice is reproducible.
    """

    calibration_size: int = 0
    share: float = 0.0

    def needs_second(self, review_id: UUID, earlier_attempts_of_version: int) -> bool:
        return earlier_attempts_of_version < self.calibration_size or sample_point(review_id) < self.share

    def for_version(self, calibration_size: int | None) -> DoubleScoringPolicy:
        """The policy for one credential version: its own calibration size when the catalog set one."""
        return self if calibration_size is None else replace(self, calibration_size=calibration_size)


NO_DOUBLE_SCORING = DoubleScoringPolicy()


def sample_point(review_id: UUID) -> float:
    """A stable point in [0, 1) derived from the review id: the same id always lands in the same place."""
    return int.from_bytes(hashlib.sha256(review_id.bytes).digest()[:8], "big") / 2**64


def level_index(rubric: Rubric, criterion_key: str, level_key: str) -> int:
    """The position of a level on its criterion's ordered scale (0 is the lowest)."""
    criterion = rubric.criterion(criterion_key)
    assert criterion is not None
    return next(i for i, level in enumerate(criterion.levels) if level.key == level_key)


def scores_agree(rubric: Rubric, first: Scorecard, second: Scorecard) -> bool:
    """Same decision and no criterion more than one level apart: close enough to stand without a third view."""
    if first.decision != second.decision:
        return False
    theirs = {r.criterion_key: r.level_key for r in second.results}
    return all(
        abs(level_index(rubric, r.criterion_key, r.level_key) - level_index(rubric, r.criterion_key,
                                                                             theirs[r.criterion_key])) <= 1
        for r in first.results
    )


def _merged_text(first: str, second: str) -> str:
    parts = [text.strip() for text in (first, second) if text.strip()]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return "\n\n".join(parts)


def merge_scorecards(primary: Scorecard, second: Scorecard) -> Scorecard:
    """The agreed outcome: the primary's levels and decision, each criterion's feedback from both."""
    theirs = {r.criterion_key: r.feedback for r in second.results}
    results = tuple(
        r.model_copy(update={"feedback": _merged_text(r.feedback, theirs.get(r.criterion_key, ""))})
        for r in primary.results
    )
    merged = {r.criterion_key: r.feedback for r in results}
    revision = tuple(
        f.model_copy(update={"feedback": merged[f.criterion_key]}) for f in primary.revision_feedback
    )
    return replace(primary, results=results, revision_feedback=revision)


@dataclass(frozen=True)
class Outcome:
    """The one decision the teacher gets for an attempt."""

    scorecard: Scorecard
    double_scored: bool = False
    adjudicated: bool = False


def resolve(rubric: Rubric, panel: Sequence[Review]) -> Outcome | Literal["adjudicate"] | None:
    """What an attempt's panel amounts to now: a decision, a call for an adjudicator, or nothing yet."""
    seats = {r.role: r for r in panel if r.status is not ReviewStatus.WITHDRAWN}
    primary, second, adjudicator = seats.get("primary"), seats.get("second"), seats.get("adjudicator")
    if adjudicator is not None:
        return Outcome(adjudicator.scorecard, True, True) if adjudicator.scorecard is not None else None
    if primary is None or primary.scorecard is None:
        return None
    if second is None:
        return Outcome(primary.scorecard)
    if second.scorecard is None:
        return None
    if scores_agree(rubric, primary.scorecard, second.scorecard):
        return Outcome(merge_scorecards(primary.scorecard, second.scorecard), double_scored=True)
    return "adjudicate"


def _levels(rubric: Rubric, scorecard: Scorecard) -> tuple[int, ...]:
    by_key = {r.criterion_key: r.level_key for r in scorecard.results}
    return tuple(level_index(rubric, c.key, by_key[c.key]) for c in rubric.criteria)


def scored_pair(rubric: Rubric, primary: Review, second: Review) -> ScoredPair:
    """The reliability record of a double-scored attempt once both reviewers have scored it."""
    assert primary.scorecard is not None and second.scorecard is not None
    assert primary.reviewer_id is not None and second.reviewer_id is not None
    return ScoredPair(
        review_id=primary.review_id,
        credential_id=primary.credential_id,
        credential_version=primary.credential_version,
        primary_reviewer=primary.reviewer_id,
        second_reviewer=second.reviewer_id,
        primary_levels=_levels(rubric, primary.scorecard),
        second_levels=_levels(rubric, second.scorecard),
        primary_decision=primary.scorecard.decision,
        second_decision=second.scorecard.decision,
    )


def adjudicated_pair(rubric: Rubric, pair: ScoredPair, adjudicator: Review) -> ScoredPair:
    assert adjudicator.scorecard is not None
    return replace(
        pair,
        adjudicator=adjudicator.reviewer_id,
        adjudicated_levels=_levels(rubric, adjudicator.scorecard),
        adjudicated_decision=adjudicator.scorecard.decision,
    )


def completed_pair(rubric: Rubric, panel: Sequence[Review], just_scored: Review) -> ScoredPair | None:
    """The pair that ``just_scored`` completed: both primary and second scored, and it was one of them."""
    seats = {r.role: r for r in panel if r.status is ReviewStatus.SCORED}
    primary, second = seats.get("primary"), seats.get("second")
    if just_scored.role == "adjudicator" or primary is None or second is None:
        return None
    return scored_pair(rubric, primary, second)
