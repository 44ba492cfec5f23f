"""The submission lifecycle and the completeness rule, as pure domain behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from microcred.events import CriterionFeedback, SubmissionCriteria
from microcred.runtime.errors import Conflict, Invalid
from microcred.submission.domain.model import (
    Evidence,
    EvidenceStatus,
    Submission,
    SubmissionStatus,
    evidence_object_key,
    missing_requirements,
    safe_filename,
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
NOW = datetime(2026, 1, 5, tzinfo=UTC)
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
    assert missing_requirements(CRITERIA, [evidence("reflection")]) == ["classroom-video"]
    assert missing_requirements(CRITERIA, []) == ["classroom-video", "reflection"]


def test_optional_requirements_are_never_missing() -> None:
    assert missing_requirements(CRITERIA, [evidence("classroom-video"), evidence("reflection")]) == []


def test_evidence_still_pending_upload_does_not_count() -> None:
    items = [evidence("classroom-video", EvidenceStatus.PENDING), evidence("reflection")]
    assert missing_requirements(CRITERIA, items) == ["classroom-video"]


def test_submitting_without_required_evidence_is_refused_with_the_missing_keys() -> None:
    submission = draft("reflection")
    with pytest.raises(Invalid) as refused:
        submission.submit(CRITERIA, NOW)
    assert refused.value.code == "incomplete"
    assert refused.value.details == ["classroom-video"]
    assert submission.status is SubmissionStatus.DRAFT and submission.attempts == []


# -- lifecycle -----------------------------------------------------------------------------------


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
    submission.record_award(uuid4())
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
    assert submission.record_award(award_id)
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
    assert submission.record_award(uuid4())
    assert not submission.record_pass(1)
    assert submission.status is SubmissionStatus.AWARDED


def test_review_events_for_a_submission_never_submitted_are_illegal() -> None:
    submission = draft()
    for apply in (
        lambda: submission.assign_reviewer(1, "reviewer-1"),
        lambda: submission.request_revision(1, FEEDBACK, NOW),
        lambda: submission.record_pass(1),
        lambda: submission.record_award(uuid4()),
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
    submission.record_award(uuid4())
    with pytest.raises(Conflict):
        submission.record_award(uuid4())


@pytest.mark.parametrize("make", [submitted, under_review])
def test_evidence_is_locked_while_an_attempt_is_in_review(make: object) -> None:
    submission = make()  # type: ignore[operator]
    with pytest.raises(Conflict) as refused:
        submission.add_evidence(evidence("reflection"))
    assert refused.value.code == "evidence_locked"


def test_evidence_can_be_added_after_a_revision_request() -> None:
    submission = under_review()
    submission.request_revision(1, FEEDBACK, NOW)
    submission.add_evidence(evidence("reflection"))
    assert len(submission.evidence) == 3


# -- uploads -------------------------------------------------------------------------------------


def test_an_upload_with_another_size_or_hash_stays_pending() -> None:
    item = evidence("reflection", EvidenceStatus.PENDING)
    with pytest.raises(Invalid) as size:
        item.verify_upload(stored_size=11, stored_sha256="a" * 64, etag="e", now=NOW)
    with pytest.raises(Invalid) as digest:
        item.verify_upload(stored_size=10, stored_sha256="b" * 64, etag="e", now=NOW)
    assert (size.value.code, digest.value.code) == ("size_mismatch", "sha256_mismatch")
    assert item.status is EvidenceStatus.PENDING
    item.verify_upload(stored_size=10, stored_sha256="a" * 64, etag="e", now=NOW)
    assert item.status is EvidenceStatus.UPLOADED and item.etag == "e"


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
