"""Routing: who gets a submitted attempt, and how the queue drains."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from microcred.events import EvidenceRef
from microcred.review.domain.model import (
    Availability,
    Review,
    Reviewer,
    ReviewStatus,
    choose_reviewer,
    page_was_enough,
    route_queue,
)
from microcred.runtime.errors import Conflict, Forbidden, Invalid

CREDENTIAL = UUID("00000000-0000-0000-0000-00000000c0de")
OTHER_CREDENTIAL = UUID("00000000-0000-0000-0000-0000000000ff")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def reviewer(reviewer_id: str, *, load: int = 0, certified: set[UUID] | None = None, max_open: int = 10,
             active: bool = True) -> Reviewer:
    return Reviewer(
        reviewer_id=reviewer_id,
        credential_ids=frozenset({CREDENTIAL} if certified is None else certified),
        max_open=max_open,
        active=active,
        open_reviews=load,
    )


def review(*, teacher: str = "teacher-1", minutes: int = 0, credential: UUID = CREDENTIAL) -> Review:
    return Review(
        review_id=uuid4(),
        submission_id=uuid4(),
        attempt=1,
        credential_id=credential,
        credential_version=1,
        teacher_id=teacher,
        states=("TN",),
        evidence=(
            EvidenceRef(
                evidence_id=uuid4(), requirement_key="video", object_key="k", filename="v.mp4",
                content_type="video/mp4", size_bytes=10, sha256="0" * 64,
            ),
        ),
        created_at=NOW + timedelta(minutes=minutes),
    )


def test_the_least_loaded_certified_reviewer_is_chosen() -> None:
    chosen = choose_reviewer([reviewer("a", load=3), reviewer("b", load=1), reviewer("c", load=2)], CREDENTIAL, "t")
    assert chosen is not None and chosen.reviewer_id == "b"


def test_reviewers_at_capacity_are_skipped() -> None:
    chosen = choose_reviewer([reviewer("a", load=2, max_open=2), reviewer("b", load=5)], CREDENTIAL, "t")
    assert chosen is not None and chosen.reviewer_id == "b"


def test_inactive_reviewers_are_skipped() -> None:
    chosen = choose_reviewer([reviewer("a", active=False), reviewer("b", load=4)], CREDENTIAL, "t")
    assert chosen is not None and chosen.reviewer_id == "b"


def test_reviewers_not_certified_for_the_credential_are_skipped() -> None:
    chosen = choose_reviewer([reviewer("a", certified={OTHER_CREDENTIAL}), reviewer("b", load=4)], CREDENTIAL, "t")
    assert chosen is not None and chosen.reviewer_id == "b"


def test_a_reviewer_certified_for_all_credentials_is_eligible_for_any() -> None:
    everything = Reviewer(reviewer_id="a", credential_ids=None, open_reviews=0)
    chosen = choose_reviewer([everything], OTHER_CREDENTIAL, "t")
    assert chosen is everything


def test_teachers_never_review_their_own_submission() -> None:
    chosen = choose_reviewer([reviewer("teacher-1"), reviewer("b", load=7)], CREDENTIAL, "teacher-1")
    assert chosen is not None and chosen.reviewer_id == "b"


def test_equal_loads_go_to_the_smallest_reviewer_id_whatever_the_input_order() -> None:
    pool = [reviewer("carol", load=1), reviewer("alice", load=1), reviewer("bob", load=1)]
    for ordering in (pool, list(reversed(pool)), pool[1:] + pool[:1]):
        chosen = choose_reviewer(ordering, CREDENTIAL, "t")
        assert chosen is not None and chosen.reviewer_id == "alice"


def test_nobody_is_chosen_when_no_reviewer_is_eligible() -> None:
    pool = [reviewer("a", active=False), reviewer("b", load=10), reviewer("c", certified={OTHER_CREDENTIAL})]
    assert choose_reviewer(pool, CREDENTIAL, "t") is None
    assert choose_reviewer([], CREDENTIAL, "t") is None


def test_draining_assigns_oldest_first_and_counts_each_assignment_against_capacity() -> None:
    newer, older = review(minutes=5), review(minutes=1)
    assigned = route_queue([newer, older], [reviewer("a", max_open=1)], {(CREDENTIAL, 1)}, NOW, timedelta(days=14))
    assert assigned == [older]
    assert older.status is ReviewStatus.ASSIGNED and older.reviewer_id == "a"
    assert older.due_at == NOW + timedelta(days=14)
    assert newer.status is ReviewStatus.QUEUED and newer.reviewer_id is None


def test_draining_spreads_reviews_across_reviewers_by_load() -> None:
    queue = [review(minutes=i) for i in range(4)]
    route_queue(queue, [reviewer("a"), reviewer("b", load=1)], {(CREDENTIAL, 1)}, NOW, timedelta(days=14))
    assert [r.reviewer_id for r in queue] == ["a", "a", "b", "a"]


def test_reviews_whose_credential_is_not_yet_known_stay_queued() -> None:
    waiting = review()
    assert route_queue([waiting], [reviewer("a")], set(), NOW, timedelta(days=14)) == []
    assert waiting.status is ReviewStatus.QUEUED


def test_paused_or_on_leave_reviewers_are_skipped() -> None:
    pool = [
        replace(reviewer("a"), availability=Availability.PAUSED),
        replace(reviewer("b"), availability=Availability.ON_LEAVE),
        reviewer("c", load=9),
    ]
    chosen = choose_reviewer(pool, CREDENTIAL, "t")
    assert chosen is not None and chosen.reviewer_id == "c"


def test_a_reviewer_in_the_teachers_district_has_a_conflict_of_interest() -> None:
    pool = [replace(reviewer("a"), district="Metro Nashville"), reviewer("b", load=5)]
    chosen = choose_reviewer(pool, CREDENTIAL, "t", teacher_district=" metro nashville ")
    assert chosen is not None and chosen.reviewer_id == "b"


def test_a_reviewer_at_the_teachers_school_has_a_conflict_of_interest() -> None:
    pool = [replace(reviewer("a"), district="East", school="Hillside Elementary"), reviewer("b", load=5)]
    chosen = choose_reviewer(pool, CREDENTIAL, "t", teacher_district="West", teacher_school="Hillside Elementary")
    assert chosen is not None and chosen.reviewer_id == "b"


def test_unknown_affiliations_never_count_as_a_conflict() -> None:
    unaffiliated = reviewer("a")
    assert not unaffiliated.conflicts_with("Metro", "Hillside")
    assert not replace(unaffiliated, district="Metro", school="Hillside").conflicts_with(None, None)


def test_an_excluded_reviewer_is_skipped_for_that_review() -> None:
    chosen = choose_reviewer([reviewer("a"), reviewer("b", load=3)], CREDENTIAL, "t", excluded={"a"})
    assert chosen is not None and chosen.reviewer_id == "b"


def test_a_review_whose_only_reviewers_conflict_stays_queued_and_carries_its_conflict_while_draining() -> None:
    near = review()
    near.teacher_school = "Hillside"
    far = review(minutes=1)
    pool = [replace(reviewer("a"), school="Hillside")]
    assigned = route_queue([near, far], pool, {(CREDENTIAL, 1)}, NOW, timedelta(days=14))
    assert assigned == [far] and near.status is ReviewStatus.QUEUED


def test_draining_skips_reviewers_excluded_from_a_review() -> None:
    declined = review()
    declined.excluded_reviewers = frozenset({"a"})
    route_queue([declined], [reviewer("a"), reviewer("b", load=4)], {(CREDENTIAL, 1)}, NOW, timedelta(days=14))
    assert declined.reviewer_id == "b"


def test_declining_returns_the_review_to_the_queue_with_the_decliner_excluded_and_the_reason_kept() -> None:
    taken = review()
    taken.assign("a", NOW, timedelta(days=14))
    taken.decline("a", "  I coached this teacher last year ")
    assert taken.status is ReviewStatus.QUEUED and taken.reviewer_id is None and taken.due_at is None
    assert taken.excluded_reviewers == {"a"}
    assert (taken.reassigned_from, taken.reassignment_reason) == ("a", "I coached this teacher last year")


def test_only_the_assigned_reviewer_may_decline_and_only_with_a_reason() -> None:
    taken = review()
    taken.assign("a", NOW, timedelta(days=14))
    with pytest.raises(Forbidden):
        taken.decline("b", "not mine")
    with pytest.raises(Invalid) as refused:
        taken.decline("a", "   ")
    assert refused.value.code == "reason_required"
    assert taken.status is ReviewStatus.ASSIGNED


def test_a_queued_review_cannot_be_declined() -> None:
    waiting = review()
    with pytest.raises(Forbidden):
        waiting.decline("a", "busy")
    waiting.reviewer_id = "a"  # not possible through the model, but a queued review must refuse regardless
    with pytest.raises(Conflict) as refused:
        waiting.decline("a", "busy")
    assert refused.value.code == "not_assigned"


def test_an_assignment_is_overdue_only_after_its_due_time() -> None:
    taken = review()
    taken.assign("a", NOW, timedelta(days=14))
    assert not taken.is_overdue(NOW + timedelta(days=14))
    assert taken.is_overdue(NOW + timedelta(days=14, seconds=1))
    assert not review().is_overdue(NOW + timedelta(days=100))


# -- routing against the least-loaded page of the registry ---------------------------------------

KNOWN = {(CREDENTIAL, 1)}


def routed_on_page(queue: list[Review], page: list[Reviewer], boundary: Reviewer | None) -> bool:
    assigned = route_queue(queue, page, KNOWN, NOW, timedelta(days=14))
    return page_was_enough(queue, assigned, page, KNOWN, boundary)


def test_a_page_holding_the_whole_registry_is_always_enough() -> None:
    assert routed_on_page([review()], [reviewer("a")], None)


def test_a_choice_ranked_ahead_of_the_first_reviewer_left_out_is_the_same_as_routing_everyone() -> None:
    assert routed_on_page([review()], [reviewer("a", load=1)], boundary=reviewer("b", load=3))


def test_a_choice_that_ties_the_first_reviewer_left_out_needs_the_whole_registry() -> None:
    # "a" took work at load 2 and "b", left out, also has 2: ties go to the smaller id, so "a" ranked ahead.
    assert routed_on_page([review()], [reviewer("a", load=2)], boundary=reviewer("b", load=2))
    # Both reviews go to "z", the only reviewer on the page; the second time "z" (load 3) ranks behind
    # "b" (load 2), who was left out and should have had it.
    two = [review(minutes=0), review(minutes=1)]
    assert not routed_on_page(two, [reviewer("z", load=2)], boundary=reviewer("b", load=2))


def test_a_review_left_queued_with_reviewers_left_out_needs_the_whole_registry() -> None:
    uncertified = reviewer("a", certified={OTHER_CREDENTIAL})
    assert not routed_on_page([review()], [uncertified], boundary=reviewer("b"))
