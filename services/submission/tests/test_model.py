"""The submission lifecycle and the completeness rule, as pure domain behaviour."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from microcred.events import CriterionFeedback, EvidenceRequirement, PathwayStep, SubmissionCriteria
from microcred.runtime.errors import Conflict, Invalid, NotFound
from microcred.submission.domain.model import (
    Evidence,
    EvidenceStatus,
    Pathway,
    PublishedCredential,
    Seat,
    Shortfall,
    Submission,
    SubmissionStatus,
    accepts_content_type,
    ensure_evidence_fits,
    ensure_prerequisites_met,
    evidence_object_key,
    missing_requirements,
    safe_filename,
    version_for_new_submission,
)

CRITERIA = SubmissionCriteria.model_validate(
    {
        "items": [
            {"key": "classroom-video", "kind": "video", "title": "Video"},
            {"key": "reflection", "kind": "reflection", "title": "Reflection"},
            {"key": "student-work", "kind": "student_work", "title": "Student work", "required": False},
        ]
    }
)
REFLECTION = CRITERIA.items[1]
NOW = datetime(2026, 1, 5, tzinfo=UTC)
CREDENTIAL_ID = UUID("00000000-0000-0000-0000-00000000c0de")
FEEDBACK = (
    CriterionFeedback(
        criterion_key="overview", criterion_name="Overview", level_key="not-yet", level_name="Not Yet",
        feedback="Say more about the class.",
    ),
)


def evidence(key: str, status: EvidenceStatus = EvidenceStatus.UPLOADED) -> Evidence:
    evidence_id = uuid4()
    return Evidence(
        evidence_id=evidence_id, requirement_key=key, filename=f"{key}.bin", content_type="application/octet-stream",
        size_bytes=10, sha256="a" * 64, object_key=f"submissions/x/{evidence_id}/{key}.bin", status=status,
    )


def draft(*keys: str) -> Submission:
    return Submission(
        submission_id=uuid4(), teacher_id="teacher-1", credential_id=uuid4(), credential_version=1,
        credential_name="Formative assessment", states=("TN",), created_at=NOW,
        evidence=[evidence(k) for k in keys],
    )


def submitted() -> Submission:
    submission = draft("classroom-video", "reflection")
    submission.submit(CRITERIA, NOW)
    return submission


def under_review() -> Submission:
    submission = submitted()
    submission.assign_reviewer(1, "reviewer-1")
    return submission


# -- completeness --------------------------------------------------------------------------------


def test_missing_required_evidence_is_listed_in_the_credentials_order() -> None:
    assert missing_requirements(CRITERIA, [evidence("reflection")]) == [Shortfall("classroom-video", 1, 0)]
    assert [s.requirement_key for s in missing_requirements(CRITERIA, [])] == ["classroom-video", "reflection"]


def test_a_requirement_with_fewer_uploads_than_its_minimum_is_short() -> None:
    criteria = SubmissionCriteria.model_validate(
        {"items": [{"key": "student-work", "kind": "student_work", "title": "Work samples", "min_count": 3}]}
    )
    two = [evidence("student-work"), evidence("student-work"), evidence("student-work", EvidenceStatus.PENDING)]
    assert missing_requirements(criteria, two) == [Shortfall("student-work", 3, 2)]
    assert missing_requirements(criteria, [*two, evidence("student-work")]) == []


def test_withdrawn_evidence_does_not_count_towards_the_minimum() -> None:
    assert missing_requirements(CRITERIA, [evidence("classroom-video", EvidenceStatus.WITHDRAWN),
                                           evidence("reflection")]) == [Shortfall("classroom-video", 1, 0)]


def test_an_optional_requirement_is_never_short_whatever_its_minimum() -> None:
    criteria = SubmissionCriteria.model_validate(
        {"items": [{"key": "extra", "kind": "document", "title": "Extra", "required": False, "min_count": 2}]}
    )
    assert missing_requirements(criteria, [evidence("extra")]) == []


def test_optional_requirements_are_never_missing() -> None:
    assert missing_requirements(CRITERIA, [evidence("classroom-video"), evidence("reflection")]) == []


def test_evidence_still_pending_upload_does_not_count() -> None:
    items = [evidence("classroom-video", EvidenceStatus.PENDING), evidence("reflection")]
    assert [s.requirement_key for s in missing_requirements(CRITERIA, items)] == ["classroom-video"]


def test_submitting_without_required_evidence_is_refused_with_the_missing_keys() -> None:
    submission = draft("reflection")
    with pytest.raises(Invalid) as refused:
        submission.submit(CRITERIA, NOW)
    assert refused.value.code == "incomplete"
    assert refused.value.details == [{"requirement_key": "classroom-video", "min_count": 1, "uploaded": 0}]
    assert "classroom-video (0 of 1 files)" in refused.value.message
    assert submission.status is SubmissionStatus.DRAFT and submission.attempts == []


# -- lifecycle -----------------------------------------------------------------------------------


def test_a_credential_with_only_optional_evidence_still_needs_one_file() -> None:
    # Before, this reached the submitted event (which carries at least one file) and answered a 500.
    optional = SubmissionCriteria.model_validate(
        {"items": [{"key": "notes", "kind": "document", "title": "Notes", "required": False}]}
    )
    submission = draft()
    with pytest.raises(Invalid) as refused:
        submission.submit(optional, NOW)
    assert refused.value.code == "incomplete" and "at least one file" in refused.value.message
    assert submission.status is SubmissionStatus.DRAFT and submission.attempts == []
    assert draft("notes").submit(optional, NOW).number == 1


def test_first_submission_opens_attempt_one() -> None:
    submission = submitted()
    assert submission.status is SubmissionStatus.SUBMITTED
    assert submission.attempt == 1
    assert [a.number for a in submission.attempts] == [1]


def test_submitting_twice_is_refused() -> None:
    submission = submitted()
    with pytest.raises(Conflict) as refused:
        submission.submit(CRITERIA, NOW)
    assert refused.value.code == "not_submittable"


@pytest.mark.parametrize("make", [under_review, submitted])
def test_resubmission_is_refused_when_no_revision_was_requested(make: object) -> None:
    submission = make()  # type: ignore[operator]
    with pytest.raises(Conflict) as refused:
        submission.submit(CRITERIA, NOW)
    assert refused.value.code == "not_submittable"


def test_resubmission_after_revise_request_opens_the_next_attempt() -> None:
    submission = under_review()
    assert submission.request_revision(1, FEEDBACK, NOW)
    submission.submit(CRITERIA, NOW)
    assert submission.status is SubmissionStatus.SUBMITTED
    assert submission.attempt == 2
    assert [a.number for a in submission.attempts] == [1, 2]
    assert submission.attempts[0].feedback == FEEDBACK


def test_passed_and_awarded_submissions_cannot_be_submitted_again() -> None:
    submission = under_review()
    submission.record_pass(1)
    with pytest.raises(Conflict):
        submission.submit(CRITERIA, NOW)
    submission.record_award(uuid4(), NOW)
    with pytest.raises(Conflict):
        submission.submit(CRITERIA, NOW)


def test_assignment_puts_the_submission_under_review_by_that_reviewer() -> None:
    submission = under_review()
    assert submission.status is SubmissionStatus.UNDER_REVIEW
    assert submission.is_reviewed_by("reviewer-1")
    assert not submission.is_reviewed_by("reviewer-2")


def test_a_revision_request_ends_the_reviewers_access_and_keeps_the_feedback() -> None:
    submission = under_review()
    submission.request_revision(1, FEEDBACK, NOW)
    assert submission.status is SubmissionStatus.REVISE_REQUESTED
    assert not submission.is_reviewed_by("reviewer-1")
    assert submission.attempts[0].feedback_received_at == NOW


def test_pass_then_award_records_the_award() -> None:
    submission = under_review()
    award_id = uuid4()
    assert submission.record_pass(1)
    assert submission.record_award(award_id, NOW)
    assert submission.status is SubmissionStatus.AWARDED and submission.award_id == award_id


def test_events_about_an_earlier_attempt_change_nothing() -> None:
    submission = under_review()
    submission.request_revision(1, FEEDBACK, NOW)
    submission.submit(CRITERIA, NOW)
    assert not submission.assign_reviewer(1, "reviewer-9")
    assert not submission.record_pass(1)
    assert not submission.request_revision(1, FEEDBACK, NOW)
    assert submission.status is SubmissionStatus.SUBMITTED and submission.attempt == 2


def test_an_outcome_that_overtakes_its_assignment_still_applies_and_the_late_assignment_is_ignored() -> None:
    submission = submitted()
    assert submission.record_pass(1)
    assert not submission.assign_reviewer(1, "reviewer-1")
    assert submission.status is SubmissionStatus.PASSED


def test_an_award_may_arrive_before_the_pass_it_implies() -> None:
    submission = under_review()
    assert submission.record_award(uuid4(), NOW)
    assert not submission.record_pass(1)
    assert submission.status is SubmissionStatus.AWARDED


def test_review_events_for_a_submission_never_submitted_are_illegal() -> None:
    submission = draft()
    for apply in (
        lambda: submission.assign_reviewer(1, "reviewer-1"),
        lambda: submission.request_revision(1, FEEDBACK, NOW),
        lambda: submission.record_pass(1),
        lambda: submission.record_award(uuid4(), NOW),
    ):
        with pytest.raises(Conflict):
            apply()


def test_a_pass_after_a_revision_request_for_the_same_attempt_is_illegal() -> None:
    submission = under_review()
    submission.request_revision(1, FEEDBACK, NOW)
    with pytest.raises(Conflict):
        submission.record_pass(1)


def test_a_second_award_with_another_id_is_illegal() -> None:
    submission = under_review()
    submission.record_award(uuid4(), NOW)
    with pytest.raises(Conflict):
        submission.record_award(uuid4(), NOW)


@pytest.mark.parametrize("make", [submitted, under_review])
def test_evidence_is_locked_while_an_attempt_is_in_review(make: object) -> None:
    submission = make()  # type: ignore[operator]
    with pytest.raises(Conflict) as refused:
        submission.add_evidence(evidence("reflection"), REFLECTION)
    assert refused.value.code == "evidence_locked"
    with pytest.raises(Conflict):
        submission.withdraw_evidence(submission.evidence[0].evidence_id, NOW)


def test_evidence_can_be_added_after_a_revision_request() -> None:
    submission = under_review()
    submission.request_revision(1, FEEDBACK, NOW)
    submission.add_evidence(evidence("reflection"), REFLECTION)
    assert len(submission.evidence) == 3


# -- evidence limits -----------------------------------------------------------------------------

LIMITED = EvidenceRequirement(
    key="classroom-video", kind="video", title="Video of the lesson", max_count=2, max_size_bytes=1000,
    accepted_content_types=("video/mp4", "video/quicktime"), min_duration_seconds=300, max_duration_seconds=600,
)


def test_registering_more_items_than_the_maximum_is_refused_counting_pending_ones() -> None:
    submission = draft("classroom-video")
    submission.add_evidence(evidence("classroom-video", EvidenceStatus.PENDING), LIMITED)
    with pytest.raises(Invalid) as refused:
        submission.add_evidence(evidence("classroom-video"), LIMITED)
    assert refused.value.code == "too_many_items"
    assert refused.value.details == {"requirement_key": "classroom-video", "max_count": 2, "registered": 2}
    assert len(submission.evidence) == 2


def test_a_withdrawn_item_frees_its_place_and_stays_on_record() -> None:
    submission = draft("classroom-video", "classroom-video")
    withdrawn = submission.withdraw_evidence(submission.evidence[0].evidence_id, NOW)
    submission.add_evidence(evidence("classroom-video"), LIMITED)
    assert withdrawn.status is EvidenceStatus.WITHDRAWN and len(submission.evidence) == 3
    assert withdrawn not in submission.uploaded_evidence()


def test_withdrawing_evidence_the_submission_does_not_have_is_not_found() -> None:
    with pytest.raises(NotFound):
        draft().withdraw_evidence(uuid4(), NOW)


def test_a_requirement_without_limits_accepts_any_type_count_and_size() -> None:
    ensure_evidence_fits(REFLECTION, "application/x-anything", 10**12)
    submission = draft(*["reflection"] * 20)
    submission.add_evidence(evidence("reflection"), REFLECTION)


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("video/mp4", True),
        ("Video/MP4; codecs=avc1", True),
        ("video/quicktime", True),
        ("video/webm", False),
        ("application/octet-stream", False),
    ],
)
def test_only_the_accepted_content_types_are_accepted_whatever_their_case_and_parameters(
    content_type: str, accepted: bool
) -> None:
    assert accepts_content_type(LIMITED, content_type) is accepted


def test_a_wildcard_subtype_accepts_the_whole_type() -> None:
    any_video = EvidenceRequirement(key="v", kind="video", title="V", accepted_content_types=("video/*",))
    assert accepts_content_type(any_video, "video/webm") and not accepts_content_type(any_video, "audio/webm")


def test_evidence_of_a_type_the_requirement_does_not_accept_is_refused_with_the_accepted_list() -> None:
    with pytest.raises(Invalid) as refused:
        ensure_evidence_fits(LIMITED, "video/webm", 10)
    assert refused.value.code == "content_type_not_accepted"
    assert refused.value.details == {"accepted_content_types": ["video/mp4", "video/quicktime"]}


def test_evidence_larger_than_the_requirement_allows_is_refused_and_the_limit_itself_is_fine() -> None:
    ensure_evidence_fits(LIMITED, "video/mp4", 1000)
    with pytest.raises(Invalid) as refused:
        ensure_evidence_fits(LIMITED, "video/mp4", 1001)
    assert (refused.value.code, refused.value.details) == ("evidence_too_large", {"max_bytes": 1000})


# -- which version a new submission binds to ---------------------------------------------------


def version(number: int, *, retired: bool = False, credential_id: UUID = CREDENTIAL_ID) -> PublishedCredential:
    return PublishedCredential(credential_id=credential_id, version=number, name=f"Formative assessment v{number}",
                               submission_criteria=CRITERIA, retired=retired)


def test_a_new_submission_binds_to_the_latest_version_that_is_not_retired() -> None:
    assert version_for_new_submission(CREDENTIAL_ID, [version(1), version(2)]).version == 2
    assert version_for_new_submission(CREDENTIAL_ID, [version(1), version(2, retired=True)]).version == 1
    assert version_for_new_submission(CREDENTIAL_ID, [version(3), version(1)]).version == 3


def test_a_credential_whose_versions_are_all_retired_takes_no_new_submission() -> None:
    with pytest.raises(Conflict) as refused:
        version_for_new_submission(CREDENTIAL_ID, [version(1, retired=True), version(2, retired=True)])
    assert refused.value.code == "credential_retired"
    assert "retired" in refused.value.message


def test_a_credential_never_published_cannot_be_started() -> None:
    with pytest.raises(Invalid) as refused:
        version_for_new_submission(CREDENTIAL_ID, [])
    assert refused.value.code == "credential_not_found"


# -- prerequisites ---------------------------------------------------------------------------------

A, B, C, D = (UUID(int=n) for n in (0xA, 0xB, 0xC, 0xD))


def test_a_pathway_links_each_step_to_its_prerequisites_and_a_removed_one_to_nothing() -> None:
    steps = (PathwayStep(credential_id=A), PathwayStep(credential_id=B, prerequisites=(A,)),
             PathwayStep(credential_id=C, prerequisites=(A, B)))
    pathway = Pathway(pathway_id=uuid4(), revision=1, active=True, steps=steps)
    assert pathway.prerequisite_links() == {(B, A), (C, A), (C, B)}
    assert Pathway(pathway_id=uuid4(), revision=2, active=False, steps=steps).prerequisite_links() == frozenset()


def test_unearned_prerequisites_are_refused_listing_their_ids_in_a_stable_order_and_naming_them() -> None:
    with pytest.raises(Invalid) as refused:
        ensure_prerequisites_met(version(1, credential_id=D), {C, A, B}, {B}, {A: "Questioning"})
    assert refused.value.code == "prerequisites_not_met"
    assert refused.value.details == [str(A), str(C)]
    assert f"Questioning ({A})" in refused.value.message and str(C) in refused.value.message


def test_earning_every_prerequisite_lets_the_teacher_start() -> None:
    ensure_prerequisites_met(version(1, credential_id=D), {A, B}, {A, B, C}, {})
    ensure_prerequisites_met(version(1, credential_id=D), set(), set(), {})


# -- uploads -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("lesson.mp4", "lesson.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\My Lesson (final).mov", "My_Lesson_final_.mov"),
        ("..", "file"),
        (".hidden", "hidden"),
        ("ünïcödé.txt", "n_c_d_.txt"),
    ],
)
def test_filenames_in_object_keys_are_made_safe(given: str, expected: str) -> None:
    assert safe_filename(given) == expected


def test_long_filenames_keep_their_extension() -> None:
    name = safe_filename("x" * 500 + ".pdf")
    assert len(name) == 120 and name.endswith(".pdf")


def test_object_keys_name_the_submission_and_the_evidence() -> None:
    submission_id, evidence_id = uuid4(), uuid4()
    key = evidence_object_key(submission_id, evidence_id, "a/b/lesson plan.pdf")
    assert key == f"submissions/{submission_id}/{evidence_id}/lesson_plan.pdf"


def test_every_reviewer_of_a_double_scored_attempt_may_read_its_evidence_and_the_teacher_sees_the_later_due_date() -> None:
    submission = submitted()
    early, late = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 9, tzinfo=UTC)
    assert submission.assign_reviewer(1, "primary-reviewer", late)
    assert submission.assign_reviewer(1, "second-reviewer", early)
    assert submission.is_reviewed_by("primary-reviewer") and submission.is_reviewed_by("second-reviewer")
    current = submission.current_attempt()
    assert current is not None and current.expected_decision_at == late


def test_a_reassignment_takes_evidence_access_from_the_reviewer_it_replaces() -> None:
    submission = submitted()
    submission.assign_reviewer(1, "declined", datetime(2026, 12, 1, tzinfo=UTC))
    submission.assign_reviewer(1, "replacement", datetime(2026, 12, 3, tzinfo=UTC), replaces="declined")
    assert submission.is_reviewed_by("replacement") and not submission.is_reviewed_by("declined")


# -- reviewer access when work is given back -----------------------------------------------------


def test_a_release_ends_the_reviewers_access_before_anyone_else_is_assigned() -> None:
    submission = under_review()
    assert submission.release_reviewer(1, "reviewer-1", "primary")
    assert submission.status is SubmissionStatus.UNDER_REVIEW and not submission.is_reviewed_by("reviewer-1")
    assert not submission.release_reviewer(1, "reviewer-1", "primary"), "the same release again changes nothing"


def test_a_release_that_overtakes_the_assignment_it_undoes_leaves_that_assignment_granting_nothing() -> None:
    submission = submitted()
    assert submission.release_reviewer(1, "reviewer-1", "primary")
    assert submission.assign_reviewer(1, "reviewer-1")
    assert submission.status is SubmissionStatus.UNDER_REVIEW and not submission.is_reviewed_by("reviewer-1")


# Everything review may say about one attempt whose primary seat went from "declined" to "second", while
# "declined" was then routed to the second seat after "gone" gave that one back: the last word on access is
# the same whatever order the events arrive in (review.assigned and review.released are different topics).
PANEL_EVENTS: list[tuple[str, str, str, str | None]] = [
    ("assign", "primary", "declined", None),
    ("release", "primary", "declined", None),
    ("assign", "primary", "second", "declined"),
    ("assign", "second", "gone", None),
    ("release", "second", "gone", None),
    ("assign", "second", "declined", "gone"),
]


def test_every_delivery_order_of_a_panels_assignments_and_releases_ends_in_the_same_access() -> None:
    for order in itertools.permutations(PANEL_EVENTS):
        submission = submitted()
        for action, role, reviewer, replaces in order:
            if action == "assign":
                submission.assign_reviewer(1, reviewer, replaces=replaces, role=role)  # type: ignore[arg-type]
            else:
                submission.release_reviewer(1, reviewer, role)  # type: ignore[arg-type]
        seated = {r for r in ("declined", "second", "gone") if submission.is_reviewed_by(r)}
        assert seated == {"declined", "second"}, f"delivered in the order {order}"


def test_a_seat_recorded_before_seats_had_roles_ends_with_any_release_of_its_reviewer() -> None:
    submission = under_review()
    current = submission.current_attempt()
    assert current is not None
    current.assigned_seats = frozenset({Seat(None, "reviewer-1")})
    assert submission.is_reviewed_by("reviewer-1")
    submission.release_reviewer(1, "reviewer-1", "second")
    assert not submission.is_reviewed_by("reviewer-1")


def test_a_release_after_the_review_concluded_or_for_an_earlier_attempt_changes_nothing() -> None:
    submission = under_review()
    submission.request_revision(1, FEEDBACK, NOW)
    assert not submission.release_reviewer(1, "reviewer-1", "primary")
    submission.submit(CRITERIA, NOW)
    assert not submission.release_reviewer(1, "reviewer-1", "primary")
    assert submission.current_attempt() is not None and submission.attempts[0].released_seats == frozenset()
